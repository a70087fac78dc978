#include "kernels/cpu/gemm_profile.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <tuple>

#include "core/threadpool.h"

namespace dsvl::kernels {
namespace {

std::atomic<bool>& enabled() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("DSVL_GEMM_PROFILE");
    return e && e[0] == '1';
  }()};
  return on;
}

struct Table {
  std::mutex mu;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t>, GemmProfileEntry> rows;
};
Table& table() {
  static Table t;
  return t;
}

double clock_s(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

void set_gemm_profiling(bool on) { enabled() = on; }
bool gemm_profiling() { return enabled(); }

void gemm_profile_reset() {
  std::lock_guard<std::mutex> lk(table().mu);
  table().rows.clear();
}

std::vector<GemmProfileEntry> gemm_profile() {
  std::vector<GemmProfileEntry> out;
  {
    std::lock_guard<std::mutex> lk(table().mu);
    for (const auto& [k, e] : table().rows) out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.cpu_s > b.cpu_s; });
  return out;
}

std::string gemm_profile_report(double peak_per_core, double min_share) {
  const auto rows = gemm_profile();
  double total_cpu = 0, total_flops = 0;
  for (const auto& e : rows) {
    total_cpu += e.cpu_s;
    total_flops += e.flops;
  }
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-4s %7s %7s %7s %7s %9s %8s %10s %7s\n", "var", "M", "N", "K",
                "calls", "GFLOP", "cpu_s", "GFLOP/cpu", "%peak");
  out += line;
  GemmProfileEntry rest;
  rest.variant = "..";
  for (const auto& e : rows) {
    if (e.cpu_s < min_share * total_cpu) {
      rest.calls += e.calls;
      rest.flops += e.flops;
      rest.cpu_s += e.cpu_s;
      continue;
    }
    const double g = e.flops / 1e9 / std::max(e.cpu_s, 1e-12);
    std::snprintf(line, sizeof line, "%-4s %7lld %7lld %7lld %7lld %9.2f %8.3f %10.1f %6.1f%%\n",
                  e.variant.c_str(), (long long)e.M, (long long)e.N, (long long)e.K,
                  (long long)e.calls, e.flops / 1e9, e.cpu_s, g, 100.0 * g / peak_per_core);
    out += line;
  }
  if (rest.calls) {
    const double g = rest.flops / 1e9 / std::max(rest.cpu_s, 1e-12);
    std::snprintf(line, sizeof line, "%-4s %23s %7lld %9.2f %8.3f %10.1f %6.1f%%\n", "rest",
                  "(small shapes)", (long long)rest.calls, rest.flops / 1e9, rest.cpu_s, g,
                  100.0 * g / peak_per_core);
    out += line;
  }
  const double g = total_flops / 1e9 / std::max(total_cpu, 1e-12);
  std::snprintf(line, sizeof line, "%-4s %31s %9.2f %8.3f %10.1f %6.1f%%\n", "all", "",
                total_flops / 1e9, total_cpu, g, 100.0 * g / peak_per_core);
  out += line;
  return out;
}

namespace detail {

GemmProfileScope::GemmProfileScope(int64_t M, int64_t N, int64_t K, const MatRef& A,
                                   const MatRef& B) {
  if (!enabled().load(std::memory_order_relaxed)) return;
  on_ = true;
  M_ = M;
  N_ = N;
  K_ = K;
  variant_[0] = A.cs == 1 && A.rs != 1 ? 'N' : 'T';
  variant_[1] = B.cs == 1 && B.rs != 1 ? 'N' : 'T';
  // Inside a parallel region the call runs on this thread alone; at top level it uses the
  // whole pool and nothing else of the process runs meanwhile.
  thread_clock_ = in_parallel_region();
  t0_ = clock_s(thread_clock_ ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID);
}

GemmProfileScope::~GemmProfileScope() {
  if (!on_) return;
  const double dt =
      clock_s(thread_clock_ ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID) - t0_;
  std::lock_guard<std::mutex> lk(table().mu);
  auto& e = table().rows[{variant_, M_, N_, K_}];
  e.variant = variant_;
  e.M = M_;
  e.N = N_;
  e.K = K_;
  ++e.calls;
  e.flops += 2.0 * double(M_) * double(N_) * double(K_);
  e.cpu_s += dt;
}

}  // namespace detail
}  // namespace dsvl::kernels
