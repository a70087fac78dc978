#include "kernels/cpu/rmsnorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace dsvl::kernels {
namespace {

TEST(RmsNorm, MatchesReferenceOddSizes) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (int64_t rows : {1, 7, 63}) {
    for (int64_t dim : {1, 7, 63, 4097}) {
      std::vector<float> x(size_t(rows * dim) + 1), w(size_t(dim) + 1);
      for (auto& v : x) v = nd(rng);
      for (auto& v : w) v = 1.0f + 0.1f * nd(rng);
      std::vector<float> y(size_t(rows * dim) + 1), r(y.size());
      // Unaligned pointers on purpose.
      rmsnorm(x.data() + 1, rows, dim, w.data() + 1, 1e-6f, y.data() + 1);
      rmsnorm_ref(x.data() + 1, rows, dim, w.data() + 1, 1e-6f, r.data() + 1);
      for (size_t i = 1; i < y.size(); ++i)
        ASSERT_NEAR(y[i], r[i], 2e-6f * (std::fabs(r[i]) + 1e-3f))
            << "rows=" << rows << " dim=" << dim << " i=" << i;
    }
  }
}

TEST(RmsNorm, InPlaceAndEpsilon) {
  // All-zero input: the epsilon keeps the output finite (zero).
  std::vector<float> x(9, 0.0f), w(9, 2.0f);
  rmsnorm(x.data(), 1, 9, w.data(), 1e-6f, x.data());
  for (float v : x) EXPECT_EQ(v, 0.0f);
  // A constant row c normalises to sign(c)·w.
  std::vector<float> c(5, -3.0f), w1(5, 1.5f);
  rmsnorm(c.data(), 1, 5, w1.data(), 0.0f, c.data());
  for (float v : c) EXPECT_NEAR(v, -1.5f, 1e-6f);
}

}  // namespace
}  // namespace dsvl::kernels
