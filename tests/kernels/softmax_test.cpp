#include "kernels/cpu/softmax.h"

#include "kernel_test_util.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels {
namespace {

TEST(Softmax, MatchesReferenceOddSizes) {
  for (auto [M, n] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 63}, {2, 4097}, {17, 196}}) {
    const int64_t ld = n + 3;
    auto x = test::random_vec(size_t(M * ld) + 1, uint32_t(n), 6.0f);
    std::vector<float> r(x);
    softmax_rows(x.data() + 1, M, n, ld);
    softmax_rows_ref(r.data() + 1, M, n, ld);
    EXPECT_TRUE(test::close(x.data() + 1, r.data() + 1, x.size() - 1, 1e-9, 1e-6,
                            "softmax M=" + std::to_string(M) + " n=" + std::to_string(n)));
  }
}

TEST(Softmax, ExpAccurate) {
  std::vector<float> got, want;
  for (int i = -870000; i <= 880000; i += 7) {
    const float v = float(i) * 1e-4f;
    got.push_back(vecmath::exp_scalar(v));
    want.push_back(float(std::exp(double(v))));
  }
  EXPECT_TRUE(test::close(got.data(), want.data(), got.size(), 0, 3e-7, "exp_scalar"));
}

TEST(Softmax, LargeRangeIsStable) {
  float x[4] = {1000.0f, 0.0f, -1000.0f, 1000.0f};
  softmax_row(x, 4);
  EXPECT_FLOAT_EQ(x[0], 0.5f);
  EXPECT_FLOAT_EQ(x[3], 0.5f);
  EXPECT_LT(x[1], 1e-30f);
}

}  // namespace
}  // namespace dsvl::kernels
