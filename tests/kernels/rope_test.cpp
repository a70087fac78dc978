#include "kernels/cpu/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace dsvl::kernels {
namespace {

TEST(Rope, InvFreqIsFloat32Formula) {
  const std::vector<float> inv = rope_inv_freq(128, 10000.0);
  ASSERT_EQ(inv.size(), 64u);
  EXPECT_EQ(inv[0], 1.0f);
  for (int i = 0; i < 64; ++i)
    EXPECT_NEAR(inv[size_t(i)], std::pow(10000.0, -2.0 * i / 128.0), 1e-6 * inv[size_t(i)]);
}

TEST(Rope, MatchesReferenceOddSizes) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int d : {2, 16, 128}) {
    const RopeTable table = make_rope_table(d, 10000.0, 5000);
    for (int64_t n : {1, 7, 63}) {
      for (int64_t pos0 : {0, 1, 4000}) {
        const int heads = 3;
        const int64_t ld = heads * d + 5;  // padded rows, as in a strided q/k buffer
        std::vector<float> x(size_t(n * ld));
        for (auto& v : x) v = nd(rng);
        std::vector<float> r = x;
        rope_apply(x.data(), n, ld, heads, pos0, table);
        rope_apply_ref(r.data(), n, ld, heads, d, pos0, 10000.0);
        for (size_t i = 0; i < x.size(); ++i)
          ASSERT_NEAR(x[i], r[i], 1e-5f)
              << "d=" << d << " n=" << n << " pos0=" << pos0 << " i=" << i;
      }
    }
  }
}

TEST(Rope, PositionZeroIsIdentityAndPairsAreHalfApart) {
  const RopeTable table = make_rope_table(4, 10000.0, 4);
  std::vector<float> x = {1, 2, 3, 4};
  rope_apply(x.data(), 1, 4, 1, 0, table);
  EXPECT_EQ(x, (std::vector<float>{1, 2, 3, 4}));
  // Position 1: dim 0 pairs with dim 2 at φ = 1 rad (inv_freq[0] = 1).
  std::vector<float> y = {1, 0, 0, 0};
  rope_apply(y.data(), 1, 4, 1, 1, table);
  EXPECT_NEAR(y[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(y[2], std::sin(1.0), 1e-6);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[3], 0.0f);
}

}  // namespace
}  // namespace dsvl::kernels
