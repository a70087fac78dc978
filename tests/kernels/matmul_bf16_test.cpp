// bf16 path of kernels::linear / gemm_nt: every bf16 kernel (AMX where the CPU has it,
// AVX512_BF16 dot products, float32 emulation) against a reference that rounds x and w to bf16
// and accumulates in double; odd sizes, unaligned x, all weight dtypes, M = 1 and large M.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/silu.h"
#include "kernels/kernel_test_util.h"
#include "kernels/matmul_test_util.h"

namespace dsvl::kernels {
namespace {

using detail::Bf16Kernel;
using test::Case;

// Products of bf16 values are exact in float32, so only float32 summation order differs.
constexpr double kRelBf16 = 2e-6;

const Case kCases[] = {{1, 1, 1},    {1, 7, 63},    {7, 63, 5},     {5, 4097, 9},   {8, 64, 70},
                       {9, 7, 33},   {33, 100, 70}, {63, 257, 63},  {15, 4097, 40}, {2, 1000, 4097},
                       {64, 96, 64}, {100, 33, 97}, {20, 1030, 530}};

using Bf16Kernels = test::Bf16KernelTest;

TEST_P(Bf16Kernels, LinearMatchesBf16Reference) {
  std::mt19937 rng(5);
  for (const Case& c : kCases) {
    std::vector<float> x = test::randn(size_t(c.M * c.K) + 1, rng);
    const std::vector<float> wf = test::randn(size_t(c.N * c.K), rng);
    const std::vector<float> bf = test::randn(size_t(c.N), rng);
    const float* xu = x.data() + 1;
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      const test::Stored w = test::store(wf, t, {c.N, c.K}), b = test::store(bf, t, {c.N});
      std::vector<float> y(size_t(c.M * c.N)), r(y.size());
      linear_ref_bf16(xu, c.M, w.view, &b.view, r.data());
      linear(xu, c.M, w.view, &b.view, y.data(), Precision::kBF16);
      test::expect_close(y.data(), c.N, r, test::abs_sums(xu, c.K, c, w.view, &b.view), c, kRelBf16,
                         test::case_str(c, t));
    }
  }
}

TEST_P(Bf16Kernels, GemmNtAccumulates) {
  std::mt19937 rng(9);
  for (const Case& c : {Case{3, 70, 45}, Case{50, 64, 100}, Case{70, 33, 20}}) {
    const int64_t lda = c.K + 1, ldb = c.K + 3, ldc = c.N + 2;
    const std::vector<float> A = test::randn(size_t(c.M * lda), rng);
    const std::vector<float> B = test::randn(size_t(c.N * ldb), rng);
    std::vector<float> C(size_t(c.M * ldc), 0.5f);
    gemm_nt(A.data(), lda, B.data(), ldb, C.data(), ldc, c.M, c.N, c.K, true, Precision::kBF16);
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        double s = 0.5, a = 0.5;
        for (int64_t k = 0; k < c.K; ++k) {
          const double p = double(bf16_to_f32(f32_to_bf16(A[size_t(m * lda + k)]))) *
                           bf16_to_f32(f32_to_bf16(B[size_t(n * ldb + k)]));
          s += p;
          a += std::fabs(p);
        }
        ASSERT_NEAR(C[size_t(m * ldc + n)], s, kRelBf16 * a + 1e-6) << "M=" << c.M << " n=" << n;
      }
  }
}

// linear_swiglu is one fused pass on AMX for M > 16 and three steps otherwise: either way the
// bits of linear, linear, silu_mul, for odd shapes (partial panels and row blocks, K not a
// multiple of 32, several column groups), every weight dtype, and both precisions.
TEST_P(Bf16Kernels, LinearSwigluEqualsItsSteps) {
  std::mt19937 rng(13);
  for (const Case& c : {Case{1, 40, 70}, Case{17, 45, 33}, Case{33, 64, 96}, Case{70, 31, 600},
                        Case{100, 130, 1000}}) {
    const std::vector<float> x = test::randn(size_t(c.M * c.K), rng);
    const std::vector<float> gf = test::randn(size_t(c.N * c.K), rng);
    const std::vector<float> uf = test::randn(size_t(c.N * c.K), rng);
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16})
      for (Precision p : {Precision::kBF16, Precision::kF32}) {
        const test::Stored g = test::store(gf, t, {c.N, c.K}), u = test::store(uf, t, {c.N, c.K});
        std::vector<float> want(size_t(c.M * c.N)), up(want.size()), got(want.size());
        linear(x.data(), c.M, g.view, nullptr, want.data(), p);
        linear(x.data(), c.M, u.view, nullptr, up.data(), p);
        silu_mul(want.data(), up.data(), c.M * c.N, want.data());
        std::vector<float> scratch(want.size());
        linear_swiglu(x.data(), c.M, g.view, u.view, got.data(), scratch.data(), p);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
            << test::case_str(c, t) << (p == Precision::kBF16 ? " bf16" : " f32");
      }
  }
  const test::Stored g = test::store(std::vector<float>(12), DType::kF32, {3, 4});
  const test::Stored u = test::store(std::vector<float>(15), DType::kF32, {3, 5});
  std::vector<float> x(4), y(3), s(3);
  EXPECT_THROW(linear_swiglu(x.data(), 1, g.view, u.view, y.data(), s.data(), Precision::kBF16),
               ShapeError);
}

// linear_add (the residual projections) against linear into a buffer and then y += it: the same
// bits on AMX, where C is added once after the whole K sum; the K-blocked kernels add y at the
// first K block, so only close there. Both precisions.
TEST_P(Bf16Kernels, LinearAddMatchesLinearThenAdd) {
  std::mt19937 rng(17);
  for (const Case& c : {Case{1, 40, 70}, Case{9, 33, 1030}, Case{40, 64, 96}, Case{70, 45, 600}}) {
    const std::vector<float> x = test::randn(size_t(c.M * c.K), rng);
    const std::vector<float> wf = test::randn(size_t(c.N * c.K), rng);
    const std::vector<float> y0 = test::randn(size_t(c.M * c.N), rng);
    const test::Stored w = test::store(wf, DType::kBF16, {c.N, c.K});
    for (Precision p : {Precision::kBF16, Precision::kF32}) {
      std::vector<float> want(y0.size()), got = y0;
      linear(x.data(), c.M, w.view, nullptr, want.data(), p);
      for (size_t i = 0; i < want.size(); ++i) want[i] = y0[i] + want[i];
      linear_add(x.data(), c.M, w.view, got.data(), p);
      const std::string what =
          test::case_str(c, DType::kBF16) + (p == Precision::kBF16 ? " bf16" : " f32");
      if (p == Precision::kBF16 && GetParam() == Bf16Kernel::kAmx) {
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float))) << what;
        continue;
      }
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5 * (std::fabs(want[i]) + std::sqrt(double(c.K)))) << what;
    }
  }
}

// Shapes for the repacking tests: M on both sides of every small-M switch, N and K off the
// panel and tile sizes, sizes that split between threads.
const Case kRepackCases[] = {{1, 1, 1},      {1, 45, 70},   {2, 33, 33},   {8, 100, 600},
                             {9, 31, 1030},  {16, 64, 64},  {17, 130, 70}, {40, 45, 97},
                             {1, 1000, 600}, {3, 4097, 70}, {70, 257, 530}};

// Random x, w, u (stored as dtype t), bias and C for case c; linear with bias, linear_add and
// linear_swiglu at precision p must give the same bits on the row-major and the repacked
// weights.
void expect_repacked_bits_equal(const Case& c, DType t, Precision p, std::mt19937& rng) {
  const std::vector<float> x = test::randn(size_t(c.M * c.K), rng);
  const test::Stored w = test::store(test::randn(size_t(c.N * c.K), rng), t, {c.N, c.K});
  const test::Stored u = test::store(test::randn(size_t(c.N * c.K), rng), t, {c.N, c.K});
  const test::Stored b = test::store(test::randn(size_t(c.N), rng), DType::kF32, {c.N});
  const std::vector<float> y0 = test::randn(size_t(c.M * c.N), rng);
  const PackedWeight wp = pack_bf16(w.view), up = pack_bf16(u.view);
  ASSERT_TRUE(wp.view().packed);
  const std::string what = test::case_str(c, t) + (p == Precision::kBF16 ? " bf16" : " f32");
  const size_t bytes = size_t(c.M * c.N) * sizeof(float);
  std::vector<float> want(size_t(c.M * c.N)), got(want.size()), scratch(want.size());
  linear(x.data(), c.M, w.view, &b.view, want.data(), p);
  linear(x.data(), c.M, wp.view(), &b.view, got.data(), p);
  ASSERT_EQ(0, std::memcmp(got.data(), want.data(), bytes)) << what << " linear";
  want = y0;
  got = y0;
  linear_add(x.data(), c.M, w.view, want.data(), p);
  linear_add(x.data(), c.M, wp.view(), got.data(), p);
  ASSERT_EQ(0, std::memcmp(got.data(), want.data(), bytes)) << what << " linear_add";
  linear_swiglu(x.data(), c.M, w.view, u.view, want.data(), scratch.data(), p);
  linear_swiglu(x.data(), c.M, wp.view(), up.view(), got.data(), scratch.data(), p);
  ASSERT_EQ(0, std::memcmp(got.data(), want.data(), bytes)) << what << " linear_swiglu";
}

// Weights repacked into the kernels' panels (what the LLM's WeightArena does at load) give the
// bits of the row-major weights on the bf16 path, from every stored dtype.
TEST_P(Bf16Kernels, RepackedWeightsGiveTheSameBits) {
  std::mt19937 rng(19);
  for (const Case& c : kRepackCases)
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      expect_repacked_bits_equal(c, t, Precision::kBF16, rng);
      if (HasFatalFailure()) return;
    }
}

// The float32 path on repacked BF16 weights (the LLM's default at --precision f32 on a BF16
// checkpoint), on the streaming (M ≤ 8) and blocked kernels.
TEST(MatmulF32, RepackedBf16WeightsGiveTheSameBits) {
  std::mt19937 rng(23);
  for (const Case& c : kRepackCases) {
    expect_repacked_bits_equal(c, DType::kBF16, Precision::kF32, rng);
    if (HasFatalFailure()) return;
  }
}

// The repacked layout itself, element by element: every (n, k) holds bf16(w[n, k]) (F32 and
// F16 rounded to nearest even, NaN kept NaN), the padding of K and N is zero. Widths around
// the 16-value register blocks of the AVX2 packer, N not a multiple of 32.
TEST(MatmulBf16, RepackedPanelsHoldEveryRoundedElement) {
  std::mt19937 rng(29);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1.0f + 0x1p-8f,      // tie, rounds down to even
                            1.0f + 3 * 0x1p-8f,  // tie, rounds up to even
                            0x1p-130f,           // denormal
                            -0.0f,
                            3.4e38f};  // rounds to infinity
  for (const auto& [N, K] : {std::pair<int64_t, int64_t>{1, 1},
                             {33, 15},
                             {40, 16},
                             {7, 17},
                             {64, 47},
                             {70, 130},
                             {31, 1031}})
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      std::vector<float> v = test::randn(size_t(N * K), rng);
      for (size_t i = 0; i < v.size(); i += 5) v[i] = specials[(i / 5) % std::size(specials)];
      const test::Stored w = test::store(v, t, {N, K});
      const PackedWeight p = pack_bf16(w.view);
      const detail::BMatrix b{DType::kBF16, p.data.data(), K, true};
      const std::string what = std::to_string(N) + "x" + std::to_string(K) + " " + dtype_name(t);
      for (int64_t n = 0; n < (N + 31) / 32 * 32; ++n)
        for (int64_t k = 0; k < detail::panel_k(K); ++k) {
          uint16_t want = 0;
          if (n < N && k < K) {
            const size_t i = size_t(n * K + k);
            want = t == DType::kBF16  ? w.h[i]
                   : t == DType::kF16 ? f32_to_bf16(f16_to_f32(w.h[i]))
                                      : f32_to_bf16(v[i]);
          }
          const uint16_t got = detail::panel_at(b, n, k);
          ASSERT_EQ(got, want) << what << " at (" << n << ", " << k << ")";
        }
    }
}

TEST(MatmulBf16, RepackedWeightsRefuseRowMajorUse) {
  const test::Stored w = test::store(std::vector<float>(40 * 70, 0.25f), DType::kBF16, {40, 70});
  const PackedWeight p = pack_bf16(w.view);
  EXPECT_EQ(int64_t(p.data.size()), packed_elems(w.view.shape));
  EXPECT_EQ(int64_t(p.data.size()), 2 * 96 * 32);  // two panels, K padded to 96
  EXPECT_THROW(load_float(p.view(), 0), ShapeError);
  EXPECT_THROW(to_float(p.view()), ShapeError);
  EXPECT_THROW(pack_bf16(p.view()), ShapeError);
  EXPECT_THROW(to_bf16(p.view()), ShapeError);
}

INSTANTIATE_TEST_SUITE_P(AllKernels, Bf16Kernels, test::AllBf16Kernels(), test::Bf16KernelName);

// The emulation rounds the activations (vectorized where the CPU has AVX2, split between
// threads) exactly as f32_to_bf16 does: ties to even, denormals, overflow to infinity, NaN.
// Its result must be the float32 kernels' on activations rounded by the scalar conversion.
TEST(MatmulBf16, EmulationRoundsActivationsLikeScalarConversion) {
  const float inf = std::numeric_limits<float>::infinity();
  // Row 0: ties either way, denormals, zeros; row 1: overflow and infinities; row 2: NaN; row
  // 3: large finite values; row 4: a signalling NaN (apart, so that no row's sum hides a
  // rounding error in another).
  const std::vector<std::vector<float>> specials = {
      {1.00390625f, 1.01171875f, -1.00390625f, -1.01171875f, 1e-40f, -3e-39f, 0.0f, -0.0f,
       1.1754944e-38f, 2.0f + 1.0f / 64},
      {3.4e38f, inf, -inf},
      {std::nanf("")},
      {3.38e38f, 65504.0f},
      {std::bit_cast<float>(0x7f800001u)}};  // a signalling NaN: quieted, not rounded to ∞
  std::mt19937 rng(21);
  for (const int64_t M : {5, 20, 300}) {
    const int64_t N = 37, K = 45;
    std::vector<float> A = test::randn(size_t(M * K), rng);
    for (size_t r = 0; r < specials.size(); ++r)
      for (size_t i = 0; i < specials[r].size(); ++i) A[r * size_t(K) + i] = specials[r][i];
    const std::vector<float> wf = test::randn(size_t(N * K), rng);
    std::vector<uint16_t> B(wf.size());
    for (size_t i = 0; i < B.size(); ++i) B[i] = f32_to_bf16(wf[i]);
    std::vector<float> rounded(A.size());
    for (size_t i = 0; i < A.size(); ++i) rounded[i] = bf16_to_f32(f32_to_bf16(A[i]));
    const detail::BMatrix b{DType::kBF16, B.data(), K};
    std::vector<float> got(size_t(M * N)), want(got.size());
    detail::set_bf16_kernel(Bf16Kernel::kEmulated);
    detail::gemm_bf16(A.data(), K, b, got.data(), N, M, N, K, detail::Epilogue{});
    detail::set_bf16_kernel(Bf16Kernel::kAuto);
    detail::gemv_f32(rounded.data(), K, b, want.data(), N, M, N, K, detail::Epilogue{});
    for (size_t i = 0; i < got.size(); ++i)
      if (std::isnan(want[i]))
        ASSERT_TRUE(std::isnan(got[i])) << "M=" << M << " element " << i;
      else
        ASSERT_EQ(got[i], want[i]) << "M=" << M << " element " << i;
  }
}

TEST(MatmulBf16, ToBf16RoundsLikeTorch) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f,     -0.0f,     1.0f,   1.00390625f, 1.0078125f,
                          3.14159f, -2.71828f, 1e-40f, -3e-39f,     1e30f,
                          3.4e38f,  inf,       -inf,   65504.0f,    1.1754944e-38f};
  for (int i = 0; i < 100; ++i) v.push_back(std::ldexp(1.0f + float(i) / 97.0f, i - 50));
  const size_t n = v.size();
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    const test::Stored s = test::store(v, t, {int64_t(n)});
    const Bf16Weight b = to_bf16(s.view);
    ASSERT_EQ(b.shape, s.view.shape);
    for (size_t i = 0; i < n; ++i)
      EXPECT_EQ(b.data[i], f32_to_bf16(load_float(s.view, int64_t(i))))
          << dtype_name(t) << " value " << v[i];
  }
  const std::vector<float> nan = {std::numeric_limits<float>::quiet_NaN()};
  const Bf16Weight bn = to_bf16(test::store(nan, DType::kF32, {1}).view);
  EXPECT_TRUE(std::isnan(bf16_to_f32(bn.data[0])));
}

TEST(MatmulBf16, ReportsItsKernel) {
  const std::string k = bf16_kernel_name();
  EXPECT_TRUE(k == "amx" || k == "avx512_bf16" || k == "emulated") << k;
}

}  // namespace
}  // namespace dsvl::kernels
