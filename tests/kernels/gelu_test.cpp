#include "kernels/cpu/gelu.h"

#include "kernel_test_util.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels {
namespace {

TEST(Gelu, MatchesErfReferenceOddSizes) {
  for (size_t n : {1, 7, 63, 4097, 20000}) {
    auto x = test::random_vec(n + 1, uint32_t(n), 3.0f);
    std::vector<float> ref(x);
    gelu(x.data() + 1, int64_t(n));  // unaligned start
    gelu_ref(ref.data() + 1, int64_t(n));
    EXPECT_TRUE(
        test::close(x.data() + 1, ref.data() + 1, n, 2e-7, 4e-7, "gelu n=" + std::to_string(n)));
  }
}

TEST(Gelu, ErfAccurateOverWholeRange) {
  // Dense sweep over the region boundaries (0.8, 4) and the tails.
  std::vector<float> z, got, want;
  for (int i = -60000; i <= 60000; ++i) z.push_back(float(i) * 1e-4f);
  for (float v : z) {
    got.push_back(vecmath::erf_scalar(v));
    want.push_back(float(std::erf(double(v))));
  }
  EXPECT_TRUE(test::close(got.data(), want.data(), z.size(), 1.5e-7, 2e-7, "erf_scalar"));
}

TEST(Gelu, SpecialValues) {
  float x[5] = {0.0f, -0.0f, 40.0f, -40.0f, 1e-20f};
  gelu(x, 5);
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_EQ(x[2], 40.0f);
  EXPECT_EQ(x[3], -0.0f);
  EXPECT_NEAR(x[4], 0.5e-20f, 1e-26f);
}

}  // namespace
}  // namespace dsvl::kernels
