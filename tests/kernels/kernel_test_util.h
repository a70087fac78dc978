// Helpers shared by the kernel tests: seeded random vectors, a max-error comparison that
// names the first bad index, and a fixture that runs a test under each bf16 kernel.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm_internal.h"

namespace dsvl::kernels::test {

inline std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Every |got − want| <= atol + rtol·|want|; reports the worst element and the first bad one.
inline ::testing::AssertionResult close(const float* got, const float* want, size_t n, double atol,
                                        double rtol, const std::string& what) {
  double worst = 0;
  size_t worst_i = 0, bad = n;
  for (size_t i = 0; i < n; ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i]));
    if (!(e <= atol + rtol * std::fabs(double(want[i]))) && bad == n) bad = i;
    if (!(e <= worst)) worst = e, worst_i = i;
  }
  if (bad == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": first bad index " << bad << " (got " << got[bad] << ", want " << want[bad]
         << "), max abs err " << worst << " at " << worst_i;
}

// Runs the body once per bf16 kernel (the parameter), restoring kAuto after; AMX is skipped
// where the CPU or kernel does not grant it. Instantiate with AllBf16Kernels() and
// Bf16KernelName.
class Bf16KernelTest : public ::testing::TestWithParam<detail::Bf16Kernel> {
 protected:
  void SetUp() override {
    if (GetParam() == detail::Bf16Kernel::kAmx && !detail::amx_usable())
      GTEST_SKIP() << "AMX not available on this CPU/kernel";
    detail::set_bf16_kernel(GetParam());
  }
  void TearDown() override { detail::set_bf16_kernel(detail::Bf16Kernel::kAuto); }
};

inline auto AllBf16Kernels() {
  return ::testing::Values(detail::Bf16Kernel::kAmx, detail::Bf16Kernel::kDot,
                           detail::Bf16Kernel::kEmulated);
}

inline std::string Bf16KernelName(const ::testing::TestParamInfo<detail::Bf16Kernel>& info) {
  return info.param == detail::Bf16Kernel::kAmx   ? "Amx"
         : info.param == detail::Bf16Kernel::kDot ? "Dot"
                                                  : "Emulated";
}

}  // namespace dsvl::kernels::test
