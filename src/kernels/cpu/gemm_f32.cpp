// Blocked float32 GEMM, C (+)= A·Bᵀ with B a weight [N, K] in F32/F16/BF16 widened exactly
// while packing. Blocking loop: gemm_driver.h. Register kernel, AVX-512: a 14×32 tile of C in
// 28 zmm accumulators; per k it loads two B vectors and broadcasts 14 A values (16 loads for 28
// FMAs, within the two load ports' budget on Zen 4/5 and Sapphire Rapids). AVX2 + FMA (16 ymm
// registers): a 6×32 tile done as two 6×16 halves of 12 ymm accumulators (8 loads for 12 FMAs).
#include "kernels/cpu/gemm_driver.h"
#include "kernels/cpu/simd.h"

namespace dsvl::kernels::detail {
namespace {

struct F32Kernel {
  using AT = float;
  using BT = float;
#if defined(__AVX512F__) || !(defined(__AVX2__) && defined(__FMA__))
  static constexpr int kMR = 14;
#else
  static constexpr int kMR = 6;
#endif
  // K block: A micro-panel 28 KB stays in L1 while B panels (64 KB) stream from L2. Larger
  // blocks mean fewer read-modify-write passes over C (256 measured ~8% slower, 1024 ~10%).
  static constexpr int kKC = kKCf32;
  static constexpr int64_t a_elems(int kc) { return kc; }
  static constexpr int64_t b_elems(int kc) { return int64_t(kc) * kNR; }

  // dst[k·kMR + i] = A[i, k] for i < mr, 0 for mr ≤ i < kMR.
  static void pack_a(const float* A, int64_t lda, int mr, int kc, float* dst) {
#if defined(__AVX512F__)
    // 16 rows × 16 k transposed in registers; the first kMR lanes of each column are kept.
    constexpr __mmask16 kRows = (1u << kMR) - 1;
    for (int k = 0; k < kc; k += 16) {
      const int kt = std::min(16, kc - k);
      const __mmask16 m = simd::mask16(kt);
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < mr ? _mm512_maskz_loadu_ps(m, A + i * lda + k) : _mm512_setzero_ps();
      simd::transpose16x16(r);
      for (int c = 0; c < kt; ++c) _mm512_mask_storeu_ps(dst + (k + c) * kMR, kRows, r[c]);
    }
#elif defined(__AVX2__) && defined(__FMA__)
    // 8 rows (the last two zero) × 8 k transposed in registers; 6 lanes of each column kept.
    for (int k = 0; k < kc; k += 8) {
      const int kt = std::min(8, kc - k);
      const __m256i m = simd::mask8(kt);
      __m256 r[8];
      for (int i = 0; i < 8; ++i) {
        const float* a = A + i * lda + k;
        r[i] = i >= mr   ? _mm256_setzero_ps()
               : kt == 8 ? _mm256_loadu_ps(a)
                         : _mm256_maskload_ps(a, m);
      }
      simd::transpose8x8(r);
      for (int c = 0; c < kt; ++c) {
        float* d = dst + (k + c) * kMR;
        _mm_storeu_ps(d, _mm256_castps256_ps128(r[c]));
        _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(r[c], 1));
      }
    }
#else
    for (int i = 0; i < kMR; ++i)
      for (int k = 0; k < kc; ++k) dst[k * kMR + i] = i < mr ? A[i * lda + k] : 0.0f;
#endif
  }

  static void pack_b(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, float* dst) {
    pack_b_f32(B, n0, nr, k0, kc, dst);
  }

#if defined(__AVX512F__)
  // C[mr ≤ kMR, nr ≤ 32] = (load_c ? C : 0) + bias + Ap·Bp over kc.
  static void micro(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int mr, int nr,
                    const float* bias, bool load_c) {
    prefetch_c_tile(C, ldc, mr);
    __m512 c0[kMR], c1[kMR];
    for (int i = 0; i < kMR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int k = 0; k < kc; ++k) {
      const __m512 b0 = _mm512_load_ps(Bp + k * kNR), b1 = _mm512_load_ps(Bp + k * kNR + 16);
#pragma GCC unroll 14
      for (int i = 0; i < kMR; ++i) {
        const __m512 a = _mm512_set1_ps(Ap[k * kMR + i]);
        c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
      }
    }
    const __mmask16 m0 = simd::mask16(nr), m1 = simd::mask16(nr - 16);
    __m512 add0 = _mm512_setzero_ps(), add1 = add0;
    if (bias) {
      add0 = _mm512_maskz_loadu_ps(m0, bias);
      add1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    for (int i = 0; i < mr; ++i) {
      float* c = C + i * ldc;
      __m512 v0 = _mm512_add_ps(c0[i], add0), v1 = _mm512_add_ps(c1[i], add1);
      if (load_c) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
      }
      _mm512_mask_storeu_ps(c, m0, v0);
      _mm512_mask_storeu_ps(c + 16, m1, v1);
    }
  }
#elif defined(__AVX2__) && defined(__FMA__)
  // Columns [0, nr ≤ 16) of the panel (Bp and C already offset to the half) for MR rows.
  template <int MR>
  static void micro_half(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int nr,
                         const float* bias, bool load_c) {
    __m256 c0[MR], c1[MR];
    for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int k = 0; k < kc; ++k) {
      const __m256 b0 = _mm256_load_ps(Bp + k * kNR), b1 = _mm256_load_ps(Bp + k * kNR + 8);
#pragma GCC unroll 6
      for (int i = 0; i < MR; ++i) {
        const __m256 a = _mm256_broadcast_ss(Ap + k * kMR + i);
        c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
      }
    }
    const __m256i m0 = simd::mask8(nr), m1 = simd::mask8(nr - 8);
    __m256 add0 = _mm256_setzero_ps(), add1 = add0;
    if (bias) {
      add0 = _mm256_maskload_ps(bias, m0);
      add1 = _mm256_maskload_ps(bias + 8, m1);
    }
    for (int i = 0; i < MR; ++i) {
      float* c = C + i * ldc;
      __m256 v0 = _mm256_add_ps(c0[i], add0), v1 = _mm256_add_ps(c1[i], add1);
      if (nr == 16) {
        if (load_c) {
          v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
          v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
        }
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
        continue;
      }
      if (load_c) {
        v0 = _mm256_add_ps(v0, _mm256_maskload_ps(c, m0));
        v1 = _mm256_add_ps(v1, _mm256_maskload_ps(c + 8, m1));
      }
      _mm256_maskstore_ps(c, m0, v0);
      _mm256_maskstore_ps(c + 8, m1, v1);
    }
  }

  template <int MR>
  static void micro_rows(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int nr,
                         const float* bias, bool load_c) {
    micro_half<MR>(kc, Ap, Bp, C, ldc, std::min(nr, 16), bias, load_c);
    if (nr > 16)
      micro_half<MR>(kc, Ap, Bp + 16, C + 16, ldc, nr - 16, bias ? bias + 16 : nullptr, load_c);
  }

  // C[mr ≤ kMR, nr ≤ 32] = (load_c ? C : 0) + bias + Ap·Bp over kc; only the mr rows computed.
  static void micro(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int mr, int nr,
                    const float* bias, bool load_c) {
    prefetch_c_tile(C, ldc, mr);
    switch (mr) {
      case 1:
        return micro_rows<1>(kc, Ap, Bp, C, ldc, nr, bias, load_c);
      case 2:
        return micro_rows<2>(kc, Ap, Bp, C, ldc, nr, bias, load_c);
      case 3:
        return micro_rows<3>(kc, Ap, Bp, C, ldc, nr, bias, load_c);
      case 4:
        return micro_rows<4>(kc, Ap, Bp, C, ldc, nr, bias, load_c);
      case 5:
        return micro_rows<5>(kc, Ap, Bp, C, ldc, nr, bias, load_c);
      default:
        return micro_rows<6>(kc, Ap, Bp, C, ldc, nr, bias, load_c);
    }
  }
#else
  static void micro(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, int mr, int nr,
                    const float* bias, bool load_c) {
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) {
        float s = 0.0f;
        for (int k = 0; k < kc; ++k) s += Ap[k * kMR + i] * Bp[k * kNR + j];
        if (bias) s += bias[j];
        C[i * ldc + j] = load_c ? C[i * ldc + j] + s : s;
      }
  }
#endif
};

// The float32 kernel on A rounded to bf16 values (nearest even) as it is packed: the bf16
// emulation's products without a rounded copy of A (one pass over A fewer, and no M×K buffer:
// 50 MB for SAM-B's MLP). Rounding then packing equals packing then rounding, value by value.
struct F32RoundAKernel : F32Kernel {
  static void pack_a(const float* A, int64_t lda, int mr, int kc, float* dst) {
    F32Kernel::pack_a(A, lda, mr, kc, dst);
    round_bf16_values(dst, int64_t(kc) * kMR, dst);
  }
};

}  // namespace

void apply_empty_k(float* C, int64_t ldc, int64_t M, int64_t N, const Epilogue& ep) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const float base = ep.accumulate ? C[i * ldc + j] : 0.0f;
      C[i * ldc + j] = base + (ep.bias ? ep.bias[j] : 0.0f);
    }
}

Range2D split_work(int64_t M, int64_t N, int64_t m_unit, int t, int nt) {
  const int64_t panels = (N + kNR - 1) / kNR, munits = (M + m_unit - 1) / m_unit;
  // Splitting N keeps each thread's packed B private and A shared in L3; split M only when
  // there are too few column panels to balance (e.g. attention with a short key length).
  if (panels >= 4 * nt || panels >= munits) {
    const int64_t b = panels * t / nt, e = panels * (t + 1) / nt;
    return {0, M, std::min(N, b * kNR), std::min(N, e * kNR)};
  }
  const int64_t b = munits * t / nt, e = munits * (t + 1) / nt;
  return {std::min(M, b * m_unit), std::min(M, e * m_unit), 0, N};
}

void gemm_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
              int64_t N, int64_t K, const Epilogue& ep) {
  gemm_blocked<F32Kernel>(A, lda, B, C, ldc, M, N, K, ep);
}

void gemm_f32_round_a(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                      int64_t M, int64_t N, int64_t K, const Epilogue& ep) {
  gemm_blocked<F32RoundAKernel>(A, lda, B, C, ldc, M, N, K, ep);
}

}  // namespace dsvl::kernels::detail
