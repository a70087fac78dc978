// A persistent pool of worker threads shared by every kernel. parallel_for splits [0, n)
// into contiguous chunks, one per thread, and blocks until all are done. Calls made from
// inside a worker run inline (no nested parallelism), so kernels may call each other freely.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace dsvl {

// A non-owning reference to a callable, for the duration of one blocking call. Unlike
// std::function it never allocates (a lambda capturing more than two references would be
// heap-allocated by std::function on every parallel_for of the decode loop).
template <typename Sig>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                                    std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert implicitly
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, Args... a) -> R {
          auto& f = *static_cast<std::remove_reference_t<F>*>(o);
          if constexpr (std::is_void_v<R>)
            f(std::forward<Args>(a)...);
          else
            return f(std::forward<Args>(a)...);
        }) {}

  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

// Number of threads used by parallel_for (default: hardware concurrency). Not thread-safe
// with respect to concurrent parallel_for calls; set it once at startup.
void set_num_threads(int n);
int num_threads();

// fn(begin, end) is called on disjoint ranges covering [0, n). `grain` is the smallest
// range worth giving a thread; small n run inline on the caller.
// fn is only referenced (not copied) and must outlive the call, as a lambda argument does.
void parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn, int64_t grain = 1);

// fn(thread_index, n_threads): one call per thread, for kernels that partition themselves.
void parallel_run(FunctionRef<void(int, int)> fn);

// fn(thread_index, task) for every task in [0, n), handed out in order from a shared counter
// as threads free up (a thread's speed swings by ±15% on a shared VM, and a fixed share per
// thread leaves the faster one idle at the end). Runs inline like parallel_run.
void parallel_tasks(int64_t n, FunctionRef<void(int, int64_t)> fn);

// True on a thread that is running a parallel_for / parallel_run body (where nested calls run
// inline); profilers use it to tell per-thread work from whole-pool work.
bool in_parallel_region();

}  // namespace dsvl
