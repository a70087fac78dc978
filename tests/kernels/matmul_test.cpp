// float32 path of kernels::linear / gemm_nt against the double-accumulating reference:
// odd sizes (1, 7, 63, 4097), unaligned and strided operands, every weight and bias dtype,
// both the streaming (M ≤ 8) and the blocked (M > 8) kernels, serial and threaded sizes.
#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/matmul_test_util.h"

namespace dsvl::kernels {
namespace {

using test::Case;

// float32 summation-order error relative to Σ|x·w| (measured max here is about 1e-7).
constexpr double kRelF32 = 2e-6;

const Case kCases[] = {{1, 1, 1},     {1, 7, 63},     {7, 63, 5},    {5, 4097, 9},
                       {8, 63, 70},   {9, 7, 33},     {33, 100, 70}, {4, 16, 4},
                       {63, 257, 63}, {15, 4097, 40}, {100, 64, 96}, {2, 1000, 4097},
                       {29, 513, 65}, {20, 1030, 530}};

TEST(Matmul, LinearMatchesReferenceAllDtypesOddSizes) {
  std::mt19937 rng(7);
  for (const Case& c : kCases) {
    std::vector<float> x = test::randn(size_t(c.M * c.K) + 1, rng);
    const std::vector<float> wf = test::randn(size_t(c.N * c.K), rng);
    const std::vector<float> bf = test::randn(size_t(c.N), rng);
    const float* xu = x.data() + 1;  // unaligned activations
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      const test::Stored w = test::store(wf, t, {c.N, c.K}), b = test::store(bf, t, {c.N});
      std::vector<float> y(size_t(c.M * c.N)), r(y.size()), r0(y.size());
      linear_ref(xu, c.M, w.view, &b.view, r.data());
      linear_ref(xu, c.M, w.view, nullptr, r0.data());
      const auto scale = test::abs_sums(xu, c.K, c, w.view, &b.view);
      linear(xu, c.M, w.view, &b.view, y.data());
      test::expect_close(y.data(), c.N, r, scale, c, kRelF32, test::case_str(c, t) + " bias");
      linear(xu, c.M, w.view, nullptr, y.data());
      test::expect_close(y.data(), c.N, r0, scale, c, kRelF32, test::case_str(c, t));
    }
  }
}

TEST(Matmul, LinearStridedWritesOnlyItsSlice) {
  std::mt19937 rng(11);
  for (const Case& c : {Case{3, 37, 21}, Case{40, 70, 50}}) {
    const int64_t ldx = c.K + 5, ldy = c.N + 7;
    const std::vector<float> x = test::randn(size_t(c.M * ldx), rng);
    const std::vector<float> wf = test::randn(size_t(c.N * c.K), rng);
    const test::Stored w = test::store(wf, DType::kBF16, {c.N, c.K});
    std::vector<float> xc(size_t(c.M * c.K)), r(size_t(c.M * c.N));
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t k = 0; k < c.K; ++k) xc[size_t(m * c.K + k)] = x[size_t(m * ldx + k)];
    linear_ref(xc.data(), c.M, w.view, nullptr, r.data());
    std::vector<float> y(size_t(c.M * ldy), -7.0f);
    linear_strided(x.data(), ldx, c.M, w.view, nullptr, y.data(), ldy);
    test::expect_close(y.data(), ldy, r, test::abs_sums(xc.data(), c.K, c, w.view, nullptr), c,
                       kRelF32, "strided");
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = c.N; n < ldy; ++n) ASSERT_EQ(y[size_t(m * ldy + n)], -7.0f);
  }
}

TEST(Matmul, GemmNtMatchesNaive) {
  std::mt19937 rng(3);
  for (const Case& c : {Case{13, 37, 11}, Case{1, 64, 200}, Case{70, 64, 9}, Case{64, 65, 130}}) {
    const int64_t lda = c.K + 3, ldb = c.K + 2, ldc = c.N + 1;
    const std::vector<float> A = test::randn(size_t(c.M * lda), rng);
    const std::vector<float> B = test::randn(size_t(c.N * ldb), rng);
    for (bool acc : {false, true}) {
      std::vector<float> C(size_t(c.M * ldc), 1.0f);
      gemm_nt(A.data(), lda, B.data(), ldb, C.data(), ldc, c.M, c.N, c.K, acc);
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = 0; n < c.N; ++n) {
          double s = acc ? 1.0 : 0.0, a = 0.0;
          for (int64_t k = 0; k < c.K; ++k) {
            const double p = double(A[size_t(m * lda + k)]) * B[size_t(n * ldb + k)];
            s += p;
            a += std::fabs(p);
          }
          ASSERT_NEAR(C[size_t(m * ldc + n)], s, kRelF32 * a + 1e-6)
              << "M=" << c.M << " N=" << c.N << " K=" << c.K << " acc=" << acc;
        }
    }
  }
}

TEST(Matmul, EmptyKGivesBias) {
  const std::vector<float> bf = {1.5f, -2.0f, 3.0f};
  const test::Stored w = test::store({}, DType::kF16, {3, 0}),
                     b = test::store(bf, DType::kF32, {3});
  for (int64_t M : {1, 20}) {
    std::vector<float> x(1), y(size_t(M * 3), 9.0f);
    linear(x.data(), M, w.view, &b.view, y.data());
    for (int64_t i = 0; i < M * 3; ++i) EXPECT_EQ(y[size_t(i)], bf[size_t(i % 3)]);
  }
}

TEST(Matmul, RejectsBadShapesAndDtypes) {
  std::vector<float> x(4), y(4), wf(4);
  const TensorView w1{DType::kF32, {4}, wf.data()};
  EXPECT_THROW(linear(x.data(), 1, w1, nullptr, y.data()), ShapeError);
  const TensorView wi{DType::kI32, {2, 2}, wf.data()};
  EXPECT_THROW(linear(x.data(), 1, wi, nullptr, y.data()), ShapeError);
  const TensorView w{DType::kF32, {2, 2}, wf.data()}, b{DType::kF32, {3}, wf.data()};
  EXPECT_THROW(linear(x.data(), 1, w, &b, y.data()), ShapeError);
}

}  // namespace
}  // namespace dsvl::kernels
