#include "kernels/cpu/layernorm.h"

#include "kernel_test_util.h"

namespace dsvl::kernels {
namespace {

TEST(LayerNorm, MatchesReferenceOddSizes) {
  for (auto [M, C] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 63}, {2, 4097}, {33, 768}}) {
    auto x = test::random_vec(size_t(M * C) + 1, uint32_t(C), 2.0f);
    for (auto& v : x) v += 5.0f;  // a large mean exercises the two-pass variance
    auto w = test::random_vec(size_t(C), 11), b = test::random_vec(size_t(C), 12);
    std::vector<float> y(size_t(M * C)), r(y.size());
    layernorm(x.data() + 1, M, C, w.data(), b.data(), 1e-6f, y.data());
    layernorm_ref(x.data() + 1, M, C, w.data(), b.data(), 1e-6f, r.data());
    EXPECT_TRUE(test::close(y.data(), r.data(), y.size(), 2e-5, 1e-5,
                            "layernorm M=" + std::to_string(M) + " C=" + std::to_string(C)));
  }
}

TEST(LayerNorm, InPlace) {
  auto x = test::random_vec(3 * 50, 1), w = test::random_vec(50, 2), b = test::random_vec(50, 3);
  std::vector<float> r(x.size());
  layernorm_ref(x.data(), 3, 50, w.data(), b.data(), 1e-6f, r.data());
  layernorm(x.data(), 3, 50, w.data(), b.data(), 1e-6f, x.data());
  EXPECT_TRUE(test::close(x.data(), r.data(), x.size(), 2e-5, 1e-5, "layernorm in place"));
}

}  // namespace
}  // namespace dsvl::kernels
