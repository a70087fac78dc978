#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace dsvl::kernels {
namespace {

struct Case {
  int64_t M, K, N;
};

std::vector<uint16_t> to_half(const std::vector<float>& v, DType t) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    h[i] = t == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  return h;
}

TEST(Matmul, LinearMatchesReferenceAllDtypesOddSizes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (Case c : {Case{1, 1, 1}, Case{1, 7, 63}, Case{7, 63, 5}, Case{5, 4097, 9}, Case{33, 100, 70},
                 Case{4, 16, 4}}) {
    std::vector<float> x(size_t(c.M * c.K) + 1), wf(size_t(c.N * c.K)), bf(size_t(c.N));
    for (auto& v : x) v = nd(rng);
    for (auto& v : wf) v = nd(rng);
    for (auto& v : bf) v = nd(rng);
    const float* xu = x.data() + 1;  // unaligned activations
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      std::vector<uint16_t> wh = to_half(wf, t), bh = to_half(bf, t);
      TensorView w{t, {c.N, c.K}, t == DType::kF32 ? (const void*)wf.data() : wh.data()};
      TensorView b{t, {c.N}, t == DType::kF32 ? (const void*)bf.data() : bh.data()};
      std::vector<float> y(size_t(c.M * c.N)), r(y.size());
      linear(xu, c.M, w, &b, y.data());
      linear_ref(xu, c.M, w, &b, r.data());
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], r[i], 1e-5 * std::sqrt(double(c.K)) * 4)
            << "M=" << c.M << " K=" << c.K << " N=" << c.N << " i=" << i;
      linear(xu, c.M, w, nullptr, y.data());
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = 0; n < c.N; ++n)
          ASSERT_NEAR(y[size_t(m * c.N + n)] + load_float(b, n), r[size_t(m * c.N + n)],
                      1e-4 * std::sqrt(double(c.K)));
    }
  }
}

TEST(Matmul, GemmNtMatchesNaive) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t M = 13, N = 11, K = 37, lda = 40, ldb = 39, ldc = 12;
  std::vector<float> A(size_t(M * lda)), B(size_t(N * ldb)), C(size_t(M * ldc), 1.0f);
  for (auto& v : A) v = nd(rng);
  for (auto& v : B) v = nd(rng);
  gemm_nt(A.data(), lda, B.data(), ldb, C.data(), ldc, M, N, K, /*accumulate=*/true);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 1.0;
      for (int64_t k = 0; k < K; ++k) s += double(A[size_t(m * lda + k)]) * B[size_t(n * ldb + k)];
      ASSERT_NEAR(C[size_t(m * ldc + n)], s, 1e-4);
    }
}

}  // namespace
}  // namespace dsvl::kernels
