#include "kernels/cpu/attention.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "kernel_test_util.h"

namespace dsvl::kernels {
namespace {

// Full and partial column tiles (8, 16, 32 and odd widths: plain and masked loads/stores),
// overwriting C and accumulating into it; elements outside the M×N block stay untouched.
TEST(Attention, GemmNnMatchesNaive) {
  for (const bool accumulate : {false, true})
    for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                           {7, 63, 5},
                           {5, 130, 64},
                           {17, 16, 33},
                           {13, 8, 9},
                           {6, 32, 256},
                           {4, 64, 4097}}) {
      const int64_t lda = K + 1, ldb = N + 2, ldc = N + 3;
      auto A = test::random_vec(size_t(M * lda), 1), B = test::random_vec(size_t(K * ldb), 2);
      auto C = test::random_vec(size_t(M * ldc), 3);
      std::vector<float> R(C);
      gemm_nn(A.data(), lda, B.data(), ldb, C.data(), ldc, M, N, K, accumulate);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = accumulate ? R[size_t(i * ldc + j)] : 0.0;
          for (int64_t k = 0; k < K; ++k)
            s += double(A[size_t(i * lda + k)]) * B[size_t(k * ldb + j)];
          R[size_t(i * ldc + j)] = float(s);
        }
      EXPECT_TRUE(test::close(C.data(), R.data(), C.size(), 1e-5 * std::sqrt(double(K)), 1e-5,
                              "gemm_nn " + std::to_string(M) + "x" + std::to_string(N) + "x" +
                                  std::to_string(K) + (accumulate ? " accumulate" : "")));
    }
}

// The scratch is handed over `misalign` floats past a 64-byte boundary and ends where its
// allocation ends, so an overrun from aligning it inside the kernel shows under ASan.
void check_attention(int64_t n_q, int64_t kh, int64_t kw, int64_t d, bool with_bias,
                     Precision p = Precision::kF32, float scale_mul = 1.0f, int misalign = 0) {
  const int64_t n_k = kh * kw, ld = 3 * d + 1;  // q|k|v interleaved rows, odd stride
  const int64_t rows = std::max(n_q, n_k);
  auto qkv = test::random_vec(size_t(rows * ld) + 1, uint32_t(n_q * 31 + d));
  auto rh = test::random_vec(size_t(n_q * kh), 5), rw = test::random_vec(size_t(n_q * kw), 6);
  GridBias bias{rh.data(), rw.data(), kh, kw};
  const float* q = qkv.data() + 1;
  const int64_t ldo = d + 5;
  std::vector<float> o(size_t(n_q * ldo)), r(o.size());
  std::vector<float> scratch(size_t(attention_scratch_floats(n_k, d) + misalign));
  const float scale = scale_mul / std::sqrt(float(d));
  attention_head(q, ld, q + d, ld, q + 2 * d, ld, n_q, n_k, d, scale, with_bias ? &bias : nullptr,
                 o.data(), ldo, scratch.data() + misalign, p);
  attention_head_ref(q, ld, q + d, ld, q + 2 * d, ld, n_q, n_k, d, scale,
                     with_bias ? &bias : nullptr, r.data(), ldo);
  // bf16: inputs and probabilities carry 8 significant bits (relative error 2⁻⁹ each).
  // float32: scores of magnitude ~scale_mul·√d carry rounding of that size into the exponent
  // (the whole-row softmax shows the same error), hence tolerances growing with scale_mul.
  const double tol = p == Precision::kBF16 ? 2e-2 : 2e-6 * scale_mul,
               rtol = p == Precision::kBF16 ? 2e-2 : 1e-5 * scale_mul;
  EXPECT_TRUE(test::close(o.data(), r.data(), o.size(), tol, rtol,
                          "attention n_q=" + std::to_string(n_q) + " n_k=" + std::to_string(n_k) +
                              " d=" + std::to_string(d)));
}

// add_grid_bias_max against a scalar walk: the same biased scores bit for bit and their maximum,
// for key ranges that start and end inside grid rows, on grids whose rows are shorter than,
// equal to and longer than one 16-lane vector.
TEST(Attention, GridBiasMaxMatchesScalarBias) {
  for (const auto& [kh, kw] : {std::pair<int64_t, int64_t>{5, 9}, {3, 16}, {4, 37}, {64, 64}}) {
    const int64_t n_q = 3, n_k = kh * kw;
    const auto rh = test::random_vec(size_t(n_q * kh), 7),
               rw = test::random_vec(size_t(n_q * kw), 8);
    const GridBias bias{rh.data(), rw.data(), kh, kw};
    for (const auto& [j0, j1] :
         {std::pair<int64_t, int64_t>{0, n_k}, {1, n_k - 2}, {kw + 3, kw + 4}}) {
      for (int64_t i = 0; i < n_q; ++i) {
        const auto scores = test::random_vec(size_t(j1 - j0), uint32_t(10 + i));
        std::vector<float> got = scores, want = scores;
        const float mx = add_grid_bias_max(bias, i, j0, j1, got.data());
        float want_mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = j0; j < j1; ++j) {
          float& s = want[size_t(j - j0)];
          s = (s + rh[size_t(i * kh + j / kw)]) + rw[size_t(i * kw + j % kw)];
          want_mx = std::max(want_mx, s);
        }
        ASSERT_EQ(got, want) << kh << "x" << kw << " keys " << j0 << ".." << j1 << " row " << i;
        EXPECT_EQ(mx, want_mx);
      }
    }
  }
}

TEST(Attention, MatchesReferenceOddSizes) {
  check_attention(1, 1, 1, 1, false);
  check_attention(7, 1, 7, 5, true);
  check_attention(63, 9, 7, 16, true);
  check_attention(196, 14, 14, 64, true);
  check_attention(33, 1, 577, 33, false);
  check_attention(20, 3, 5, 80, false);
}

// Several key chunks (the float32 kernel walks keys in chunks with a running maximum): chunk
// edges inside rows of the bias grid, a short last chunk, more queries than one block, and
// sharp softmaxes (scale ×8) whose maximum moves from chunk to chunk.
TEST(Attention, MatchesReferenceAcrossKeyChunks) {
  check_attention(61, 23, 29, 64, true);
  check_attention(100, 1, 700, 16, false, Precision::kF32, 8.0f);
  check_attention(50, 23, 29, 64, true, Precision::kF32, 8.0f);
  check_attention(9, 40, 41, 20, true);
}

// A 20×20 key grid whose bias `edit` changes per query row i (rel_h[i·20 + y], rel_w[i·20 + x]),
// against the reference.
template <typename Edit>
void check_edited_bias(uint32_t seed, Edit edit, double tol, double rtol, const char* what) {
  const int64_t n_q = 30, kh = 20, kw = 20, n_k = kh * kw, d = 32, ld = 3 * d;
  auto qkv = test::random_vec(size_t(n_k * ld), seed);
  auto rh = test::random_vec(size_t(n_q * kh), seed + 1);
  auto rw = test::random_vec(size_t(n_q * kw), seed + 2);
  for (int64_t i = 0; i < n_q; ++i) edit(i, rh.data() + i * kh, rw.data() + i * kw);
  const GridBias bias{rh.data(), rw.data(), kh, kw};
  std::vector<float> o(size_t(n_q * d)), r(o.size());
  std::vector<float> scratch(size_t(attention_scratch_floats(n_k, d)));
  const float* q = qkv.data();
  attention_head(q, ld, q + d, ld, q + 2 * d, ld, n_q, n_k, d, 0.2f, &bias, o.data(), d,
                 scratch.data());
  attention_head_ref(q, ld, q + d, ld, q + 2 * d, ld, n_q, n_k, d, 0.2f, &bias, r.data(), d);
  EXPECT_TRUE(test::close(o.data(), r.data(), o.size(), tol, rtol, what));
}

// Keys masked to −inf by the bias (SAM never does; a NaN-free answer is still owed): the first
// 280 keys, more than a whole chunk, so the running maximum starts at −inf.
TEST(Attention, KeysAtMinusInfinityGetNoWeight) {
  check_edited_bias(
      41,
      [](int64_t, float* rh, float*) {
        for (int64_t y = 0; y < 14; ++y) rh[y] = -INFINITY;
      },
      2e-6, 1e-5, "masked keys");
}

// Scores far above the rest (a bias of +300 on one key per query): exp(score − max) overflows
// unless the running maximum sees every biased score. The large key sits where the AVX2 pass
// that adds the bias and takes the maximum handles it with vectors (even queries) and in its
// scalar tail (odd ones, x ≥ 16 of a 20-wide key row).
TEST(Attention, LargeBiasedScoresDoNotOverflow) {
  check_edited_bias(
      51, [](int64_t i, float*, float* rw) { rw[i % 2 ? 18 : 5] = 300.0f; }, 1e-5, 1e-4,
      "large biased scores");
}

TEST(Attention, ScratchNeedNotBeAligned) {
  for (const int misalign : {1, 3, 8, 15}) {
    check_attention(61, 23, 29, 64, true, Precision::kF32, 1.0f, misalign);
    check_attention(20, 3, 5, 80, false, Precision::kF32, 1.0f, misalign);
  }
}

TEST(Attention, NoKeysGiveZeros) {
  const int64_t d = 8;
  std::vector<float> q(size_t(3 * d), 1.0f), o(size_t(3 * d), 5.0f);
  std::vector<float> scratch(size_t(attention_scratch_floats(0, d)));
  attention_head(q.data(), d, q.data(), d, q.data(), d, 3, 0, d, 1.0f, nullptr, o.data(), d,
                 scratch.data());
  for (const float x : o) EXPECT_EQ(x, 0.0f);
}
// The bf16 flavour under each bf16 kernel: AMX tiles and vdpbf16ps where the CPU has them (the
// emulated kernel, and a kernel the CPU lacks, run float32).
using Bf16Attention = test::Bf16KernelTest;

// Odd query and key counts (blocks of query rows full, partial and one row past a block), with
// and without the SAM grid bias, head sizes that fill 1-4 output vectors (some partly), and one
// neither kernel handles (d = 80 falls back to float32).
TEST_P(Bf16Attention, MatchesReferenceAtBf16Tolerance) {
  check_attention(1, 1, 1, 64, false, Precision::kBF16);
  check_attention(37, 5, 9, 64, true, Precision::kBF16);
  check_attention(196, 14, 14, 64, true, Precision::kBF16);
  check_attention(50, 1, 577, 64, false, Precision::kBF16);
  check_attention(25, 7, 7, 64, true, Precision::kBF16);
  check_attention(100, 3, 31, 64, false, Precision::kBF16);
  check_attention(19, 3, 11, 32, true, Precision::kBF16);
  check_attention(23, 4, 4, 16, true, Precision::kBF16);
  check_attention(17, 2, 9, 33, false, Precision::kBF16);
  check_attention(33, 5, 5, 48, true, Precision::kBF16);
  check_attention(20, 3, 5, 80, false, Precision::kBF16);
}

// Where the bf16 flavour runs, its error against float32 must be of bf16 size, not zero (a
// silent float32 fallback would hide a dispatch bug) and not large.
TEST_P(Bf16Attention, RoundsLikeBf16) {
  const int64_t n = 40, d = 64, ld = 3 * d;
  auto qkv = test::random_vec(size_t(n * ld), 11);
  std::vector<float> scratch(size_t(attention_scratch_floats(n, d)));
  std::vector<float> a(size_t(n * d)), b(a.size());
  const float* q = qkv.data();
  if (!attention_head_bf16(q, ld, q + d, ld, q + 2 * d, ld, n, n, d, 0.125f, nullptr, a.data(), d,
                           scratch.data()))
    GTEST_SKIP() << "this kernel has no bf16 attention here: it runs float32";
  attention_head(q, ld, q + d, ld, q + 2 * d, ld, n, n, d, 0.125f, nullptr, b.data(), d,
                 scratch.data());
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    max_diff = std::max(max_diff, double(std::abs(a[i] - b[i])));
  EXPECT_GT(max_diff, 1e-6);
  EXPECT_LT(max_diff, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(AllKernels, Bf16Attention, test::AllBf16Kernels(), test::Bf16KernelName);

// The AMX and vdpbf16ps kernels round the same operands and add the same exact pair products
// in float32, in different orders: they agree to float32 rounding (and the odd probability
// whose bf16 rounding that flips), far inside bf16's tolerance, with and without the bias and
// on partial blocks of rows, keys and columns.
TEST(Attention, Bf16DotAgreesWithAmx) {
  if (!detail::amx_usable()) GTEST_SKIP() << "AMX not available on this CPU/kernel";
  for (const auto& [n_q, kh, kw, d, with_bias] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t, bool>{37, 5, 9, 64, true},
        {61, 1, 300, 64, false},
        {26, 4, 4, 40, true}}) {
    const int64_t n_k = kh * kw, ld = 3 * d, rows = std::max(n_q, n_k);
    const auto qkv = test::random_vec(size_t(rows * ld), 21);
    const auto rh = test::random_vec(size_t(n_q * kh), 22),
               rw = test::random_vec(size_t(n_q * kw), 23);
    const GridBias bias{rh.data(), rw.data(), kh, kw};
    std::vector<float> scratch(size_t(attention_scratch_floats(n_k, d)));
    std::vector<float> out[2];
    const detail::Bf16Kernel kernels[2] = {detail::Bf16Kernel::kAmx, detail::Bf16Kernel::kDot};
    for (int i = 0; i < 2; ++i) {
      detail::set_bf16_kernel(kernels[i]);
      out[i].assign(size_t(n_q * d), 0.0f);
      const bool ran = attention_head_bf16(qkv.data(), ld, qkv.data() + d, ld, qkv.data() + 2 * d,
                                           ld, n_q, n_k, d, 0.125f, with_bias ? &bias : nullptr,
                                           out[i].data(), d, scratch.data());
      detail::set_bf16_kernel(detail::Bf16Kernel::kAuto);
      ASSERT_TRUE(ran);
    }
    EXPECT_TRUE(test::close(out[1].data(), out[0].data(), out[0].size(), 1e-3, 1e-3,
                            "dot vs amx n_q=" + std::to_string(n_q) + " d=" + std::to_string(d)));
  }
}

}  // namespace

}  // namespace dsvl::kernels
