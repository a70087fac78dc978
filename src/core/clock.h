// Clocks for measuring speed: wall (steady) and CPU time of the whole process. On a shared,
// oversubscribed host the wall clock partly measures the neighbours; CPU time / threads
// estimates what an idle machine would give. Used by `dsvl bench` and bench/*.cpp.
#pragma once

namespace dsvl {

double wall_seconds();         // steady clock, arbitrary origin
double process_cpu_seconds();  // user + system time of all threads so far

// Wall and CPU time of one piece of work.
struct Timing {
  double wall_s = 0;
  double cpu_s = 0;
};

template <typename Fn>
Timing timed(Fn&& fn) {
  const double w0 = wall_seconds(), c0 = process_cpu_seconds();
  fn();
  return {wall_seconds() - w0, process_cpu_seconds() - c0};
}

}  // namespace dsvl
