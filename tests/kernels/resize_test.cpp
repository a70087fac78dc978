#include "kernels/cpu/resize.h"

#include "kernel_test_util.h"

namespace dsvl::kernels {
namespace {

TEST(Resize, BilinearMatchesReferenceOddSizes) {
  for (auto [H, W, C, OH, OW] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>{64, 64, 16, 96, 96},
        {1, 1, 3, 5, 7},
        {7, 5, 1, 3, 11},
        {13, 9, 17, 26, 4},
        {5, 5, 2, 5, 5}}) {
    auto x = test::random_vec(size_t(H * W * C) + 1, uint32_t(H * 7 + C));
    std::vector<float> y(size_t(OH * OW * C)), r(y.size());
    resize_bilinear_nhwc(x.data() + 1, H, W, C, y.data(), OH, OW);
    resize_bilinear_nhwc_ref(x.data() + 1, H, W, C, r.data(), OH, OW);
    EXPECT_TRUE(test::close(y.data(), r.data(), y.size(), 1e-6, 1e-6,
                            "resize " + std::to_string(H) + "x" + std::to_string(W) + "->" +
                                std::to_string(OH) + "x" + std::to_string(OW)));
  }
}

TEST(Resize, KnownValues) {
  // 2 → 4 upsample of [0, 1]: half-pixel centres give 0, 0.25, 0.75, 1.
  const float x[2] = {0.0f, 1.0f};
  float y[4];
  resize_bilinear_nhwc(x, 1, 2, 1, y, 1, 4);
  EXPECT_FLOAT_EQ(y[0], 0.0f);
  EXPECT_FLOAT_EQ(y[1], 0.25f);
  EXPECT_FLOAT_EQ(y[2], 0.75f);
  EXPECT_FLOAT_EQ(y[3], 1.0f);
  // Identity size copies.
  float z[2];
  resize_bilinear_nhwc(x, 1, 2, 1, z, 1, 2);
  EXPECT_EQ(z[0], 0.0f);
  EXPECT_EQ(z[1], 1.0f);
}

}  // namespace
}  // namespace dsvl::kernels
