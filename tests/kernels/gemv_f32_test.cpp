// The float32 streaming (M ≤ 8) kernel against a scalar model of the canonical per-element
// order (gemm_internal.h): bit-exact for every weight dtype, on odd K around the 32-k pair
// steps and the 512-k blocks of the BF16 pair kernel, odd N (partial 16-row groups), with and
// without bias, storing and accumulating; BF16 weights also repacked into panels. The blocked
// GEMM (M > 8) against the same model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/matmul_test_util.h"

namespace dsvl::kernels {
namespace {

using detail::BMatrix;
using detail::Epilogue;

// C[m, n] in the canonical order: per K block, a serial fmaf chain, then bias / C added.
void canonical(const float* A, int64_t lda, const TensorView& w, const float* bias, float* C,
               int64_t M, int64_t N, int64_t K, bool accumulate) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float c = C[m * N + n];
      for (int64_t kb = 0; kb < K; kb += detail::kKCf32) {
        float acc = 0.0f;
        for (int64_t k = kb; k < std::min<int64_t>(K, kb + detail::kKCf32); ++k)
          acc = std::fma(A[m * lda + k], load_float(w, n * K + k), acc);
        const bool first = kb == 0;
        const float v = acc + ((first && bias) ? bias[n] : 0.0f);
        c = (!first || accumulate) ? v + c : v;
      }
      C[m * N + n] = c;
    }
}

TEST(GemvF32, BitExactWithCanonicalOrderOddSizes) {
#if !defined(__AVX512F__) && !(defined(__AVX2__) && defined(__FMA__))
  GTEST_SKIP() << "the portable fallback rounds differently (no fused multiply-add)";
#endif
  std::mt19937 rng(5);
  for (const int64_t K : {1, 2, 31, 33, 63, 64, 95, 543, 1057})
    for (const int64_t N : {1, 17, 47})
      for (const int64_t M : {1, 2, 3, 8}) {
        const int64_t lda = K + 3;  // strided, unaligned activation rows
        const std::vector<float> x = test::randn(size_t(M * lda), rng);
        const std::vector<float> wf = test::randn(size_t(N * K), rng);
        const std::vector<float> bias = test::randn(size_t(N), rng);
        for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
          const test::Stored w = test::store(wf, t, {N, K});
          for (const bool acc : {false, true})
            for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
              std::vector<float> got(size_t(M * N), 0.5f), want(got);
              detail::gemv_f32(x.data(), lda, BMatrix{t, w.view.data, K}, got.data(), N, M, N, K,
                               Epilogue{b, acc});
              canonical(x.data(), lda, w.view, b, want.data(), M, N, K, acc);
              ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
                  << test::case_str({M, K, N}, t) << " bias=" << (b != nullptr) << " acc=" << acc;
              if (t != DType::kBF16) continue;
              // The same weight repacked into panels (the LLM's default on BF16 weights).
              const PackedWeight p = pack_bf16(w.view);
              got.assign(got.size(), 0.5f);
              detail::gemv_f32(x.data(), lda, BMatrix{t, p.data.data(), K, true}, got.data(), N, M,
                               N, K, Epilogue{b, acc});
              ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
                  << test::case_str({M, K, N}, t) << " repacked bias=" << (b != nullptr)
                  << " acc=" << acc;
            }
        }
      }
}

// The blocked GEMM (M > 8) in the same canonical order, bit for bit: one thread or two (taking
// work units in turn), K across several blocks, N across several column groups, stored and
// repacked weights.
TEST(GemmF32, BlockedBitExactWithCanonicalOrderAnyThreads) {
#if !defined(__AVX512F__) && !(defined(__AVX2__) && defined(__FMA__))
  GTEST_SKIP() << "the portable fallback rounds differently (no fused multiply-add)";
#endif
  std::mt19937 rng(7);
  const int before = num_threads();
  for (const int64_t K : {300, 1100})
    for (const int64_t N : {300, 1100})
      for (const int64_t M : {9, 70}) {
        const int64_t lda = K + 1;
        const std::vector<float> x = test::randn(size_t(M * lda), rng);
        const std::vector<float> wf = test::randn(size_t(N * K), rng);
        const std::vector<float> bias = test::randn(size_t(N), rng);
        for (DType t : {DType::kF32, DType::kBF16}) {
          const test::Stored w = test::store(wf, t, {N, K});
          const PackedWeight p = pack_bf16(w.view);
          for (const bool acc : {false, true}) {
            const float* b = acc ? bias.data() : nullptr;
            std::vector<float> want(size_t(M * N), 0.5f);
            canonical(x.data(), lda, w.view, b, want.data(), M, N, K, acc);
            for (const int threads : {1, 2})
              for (const bool packed : {false, true}) {
                if (packed && t != DType::kBF16) continue;
                set_num_threads(threads);
                std::vector<float> got(want.size(), 0.5f);
                const BMatrix bm =
                    packed ? BMatrix{t, p.data.data(), K, true} : BMatrix{t, w.view.data, K};
                detail::gemm_f32(x.data(), lda, bm, got.data(), N, M, N, K, Epilogue{b, acc});
                set_num_threads(before);
                ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
                    << test::case_str({M, K, N}, t) << " threads=" << threads
                    << " repacked=" << packed << " bias+acc=" << acc;
              }
          }
        }
      }
}

// Large products, bit for bit in the canonical order: several work units of rows (M above
// the unit size, gemm_driver.h) and of B groups, and A packed in several chunks (1100 rows ×
// 4100 k is more than kPackedABytes of packed A), on one thread and two.
TEST(GemmF32, BlockedBitExactAcrossUnitsAndChunks) {
#if !defined(__AVX512F__) && !(defined(__AVX2__) && defined(__FMA__))
  GTEST_SKIP() << "the portable fallback rounds differently (no fused multiply-add)";
#endif
  std::mt19937 rng(11);
  const int before = num_threads();
  struct Case {
    int64_t M, K, N;
  };
  for (const Case c : {Case{700, 600, 600}, Case{1100, 4100, 20}}) {
    const int64_t lda = c.K;
    const std::vector<float> x = test::randn(size_t(c.M * lda), rng);
    const std::vector<float> wf = test::randn(size_t(c.N * c.K), rng);
    const std::vector<float> bias = test::randn(size_t(c.N), rng);
    const test::Stored w = test::store(wf, DType::kBF16, {c.N, c.K});
    const PackedWeight p = pack_bf16(w.view);
    std::vector<float> want(size_t(c.M * c.N), 0.5f);
    canonical(x.data(), lda, w.view, bias.data(), want.data(), c.M, c.N, c.K, false);
    for (const int threads : {1, 2})
      for (const bool packed : {false, true}) {
        set_num_threads(threads);
        std::vector<float> got(want.size(), 0.5f);
        const BMatrix bm = packed ? BMatrix{DType::kBF16, p.data.data(), c.K, true}
                                  : BMatrix{DType::kBF16, w.view.data, c.K};
        detail::gemm_f32(x.data(), lda, bm, got.data(), c.N, c.M, c.N, c.K,
                         Epilogue{bias.data(), false});
        set_num_threads(before);
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
            << test::case_str({c.M, c.K, c.N}, DType::kBF16) << " threads=" << threads
            << " repacked=" << packed;
      }
  }
}

}  // namespace
}  // namespace dsvl::kernels
