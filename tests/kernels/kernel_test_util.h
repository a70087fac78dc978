// Helpers shared by the kernel tests: seeded random vectors and a max-error comparison that
// names the first bad index.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

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

}  // namespace dsvl::kernels::test
