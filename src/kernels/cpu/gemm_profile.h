// Optional per-shape profile of the training GEMM (kernels::gemm): calls, floating-point
// operations and CPU seconds per (transpose variant, M, N, K), so a benchmark can report each
// product's GFLOP per CPU-second against the FP32 peak even on a machine shared with other
// work (CPU time is what our threads got, wall time is not). Off unless DSVL_GEMM_PROFILE=1 is
// in the environment or set_gemm_profiling(true) was called; costs two clock reads per call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/train_gemm.h"

namespace dsvl::kernels {

struct GemmProfileEntry {
  std::string variant;  // "NN", "NT", "TN", "TT" (A then B; T = the operand is read transposed)
  int64_t M = 0, N = 0, K = 0;
  int64_t calls = 0;
  double flops = 0;
  double cpu_s = 0;  // CPU seconds of every thread that worked on these calls
};

void set_gemm_profiling(bool on);
bool gemm_profiling();
void gemm_profile_reset();
// Entries sorted by CPU time, largest first.
std::vector<GemmProfileEntry> gemm_profile();
// A text table: one line per shape (shapes below `min_share` of the total CPU time are
// summed into one line), with GFLOP per CPU-second and its % of `peak_per_core` GFLOP/s.
std::string gemm_profile_report(double peak_per_core, double min_share = 0.005);

namespace detail {
// Times one gemm() call when profiling is on (RAII; inert otherwise).
class GemmProfileScope {
 public:
  GemmProfileScope(int64_t M, int64_t N, int64_t K, const MatRef& A, const MatRef& B);
  ~GemmProfileScope();
  GemmProfileScope(const GemmProfileScope&) = delete;
  GemmProfileScope& operator=(const GemmProfileScope&) = delete;

 private:
  bool on_ = false, thread_clock_ = false;
  int64_t M_ = 0, N_ = 0, K_ = 0;
  char variant_[3] = {};
  double t0_ = 0;
};
}  // namespace detail

}  // namespace dsvl::kernels
