#include "kernels/cpu/silu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace dsvl::kernels {
namespace {

TEST(Silu, MatchesReferenceOddSizes) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 4.f);
  for (int64_t n : {1, 7, 63, 4097, 40000}) {
    std::vector<float> g(size_t(n) + 1), u(size_t(n) + 1), y(size_t(n) + 1), r(size_t(n) + 1);
    for (auto& v : g) v = nd(rng);
    for (auto& v : u) v = nd(rng);
    silu_mul(g.data() + 1, u.data() + 1, n, y.data() + 1);
    silu_mul_ref(g.data() + 1, u.data() + 1, n, r.data() + 1);
    for (int64_t i = 1; i <= n; ++i)
      ASSERT_NEAR(y[size_t(i)], r[size_t(i)], 1e-6f * (std::fabs(r[size_t(i)]) + 1e-3f))
          << "n=" << n << " i=" << i;
  }
}

// A value must not depend on which call computed it or where that call's range ended (the
// LLM's chunked prefill, batched and single-row decode rely on it): one call over n elements
// equals calls over one element, and calls over odd-sized pieces, bit for bit.
TEST(Silu, ValuesDoNotDependOnTheCallRange) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 6.f);
  const int64_t n = 50000;  // several parallel_for ranges
  const auto sz = static_cast<size_t>(n);
  std::vector<float> g(sz), u(sz), whole(sz), parts(sz);
  for (auto& v : g) v = nd(rng);
  for (auto& v : u) v = nd(rng);
  silu_mul(g.data(), u.data(), n, whole.data());
  for (int64_t i = 0; i < 40; ++i) silu_mul(g.data() + i, u.data() + i, 1, parts.data() + i);
  for (int64_t i = 40, len = 1; i < n; i += len, len = len % 37 + 5)
    silu_mul(g.data() + i, u.data() + i, std::min(len, n - i), parts.data() + i);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(std::memcmp(&whole[size_t(i)], &parts[size_t(i)], 4), 0) << "i=" << i;
}

TEST(Silu, ExtremesStayFinite) {
  std::vector<float> g = {-1000.f, -88.f, 0.f, 88.f, 1000.f}, u(5, 1.0f), y(5);
  silu_mul(g.data(), u.data(), 5, y.data());
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_NEAR(y[1], 0.0f, 1e-30f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[3], 88.0f);
  EXPECT_EQ(y[4], 1000.0f);
}

}  // namespace
}  // namespace dsvl::kernels
