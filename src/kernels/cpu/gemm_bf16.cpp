// bf16 GEMM: activations rounded to bf16 (nearest even), weights used as bf16 (BF16 as
// stored, F32/F16 rounded while packing), products accumulated in float32.
//
// Three kernels behind one entry point: AMX tiles (gemm_amx.cpp) where the CPU has them;
// AVX512_BF16 vdpbf16ps with the blocking of gemm_driver.h (a 14×32 C tile, 28 zmm); and a
// float32 emulation (bf16-rounded values through the float32 GEMM) for builds without
// AVX512_BF16. All three compute Σ bf16(a)·bf16(b) in float32, differing only in summation
// order (and vdpbf16ps/AMX flush bf16 denormals to zero, far below any tolerance we use).
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/gemm_driver.h"
#include "kernels/cpu/simd.h"

namespace dsvl::kernels::detail {
namespace {

struct DotKernel {
  using AT = uint32_t;  // a bf16 pair (k even in the low half)
  using BT = uint16_t;
  static constexpr int kMR = 14;
  static constexpr int kKC = kKCdot;  // 256 pairs: A micro-panel 14 KB, B panel 32 KB
  static constexpr int64_t a_elems(int kc) { return (kc + 1) / 2; }
  static constexpr int64_t b_elems(int kc) { return int64_t((kc + 1) / 2) * 2 * kNR; }

  // dst[p·kMR + i] = bf16(A[i, 2p]) | bf16(A[i, 2p+1]) << 16; zero padding.
  static void pack_a(const float* A, int64_t lda, int mr, int kc, uint32_t* dst) {
    const int kp = (kc + 1) / 2;
#if defined(__AVX512F__)
    // Per row 32 k → 16 pairs (one 512-bit vector), then a 16×16 transpose of the pairs.
    constexpr __mmask16 kRows = (1u << kMR) - 1;
    for (int p = 0; p < kp; p += 16) {
      const int kt = std::min(32, kc - 2 * p), pt = std::min(16, kp - p);
      const __mmask16 m0 = simd::mask16(kt), m1 = simd::mask16(kt - 16);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        if (i >= mr) {
          r[i] = _mm512_setzero_ps();
          continue;
        }
        const float* a = A + i * lda + 2 * p;
        r[i] = _mm512_castsi512_ps(
            simd::round_bf16x32(_mm512_maskz_loadu_ps(m0, a), _mm512_maskz_loadu_ps(m1, a + 16)));
      }
      simd::transpose16x16(r);
      for (int c = 0; c < pt; ++c)
        _mm512_mask_storeu_epi32(dst + (p + c) * kMR, kRows, _mm512_castps_si512(r[c]));
    }
#else
    for (int i = 0; i < kMR; ++i)
      for (int p = 0; p < kp; ++p) {
        const float* a = A + i * lda + 2 * p;
        const uint32_t lo = i < mr ? f32_to_bf16(a[0]) : 0;
        const uint32_t hi = i < mr && 2 * p + 1 < kc ? f32_to_bf16(a[1]) : 0;
        dst[p * kMR + i] = lo | hi << 16;
      }
#endif
  }

  static void pack_b(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, uint16_t* dst) {
    pack_b_bf16(B, n0, nr, k0, kc, dst);
  }

#if defined(__AVX512BF16__)
  static void micro(int kc, const uint32_t* Ap, const uint16_t* Bp16, float* C, int64_t ldc, int mr,
                    int nr, const float* bias, bool load_c) {
    const auto* Bp = reinterpret_cast<const uint32_t*>(Bp16);
    const int kp = (kc + 1) / 2;
    prefetch_c_tile(C, ldc, mr);
    __m512 c0[kMR], c1[kMR];
    for (int i = 0; i < kMR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int p = 0; p < kp; ++p) {
      const __m512bh b0 = (__m512bh)_mm512_load_si512(Bp + p * kNR);
      const __m512bh b1 = (__m512bh)_mm512_load_si512(Bp + p * kNR + 16);
#pragma GCC unroll 14
      for (int i = 0; i < kMR; ++i) {
        const __m512bh a = (__m512bh)_mm512_set1_epi32(int(Ap[p * kMR + i]));
        c0[i] = _mm512_dpbf16_ps(c0[i], a, b0);
        c1[i] = _mm512_dpbf16_ps(c1[i], a, b1);
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
#else
  static void micro(int kc, const uint32_t* Ap, const uint16_t* Bp, float* C, int64_t ldc, int mr,
                    int nr, const float* bias, bool load_c) {
    const int kp = (kc + 1) / 2;
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) {
        float s = 0.0f;
        for (int p = 0; p < kp; ++p)
          for (int h = 0; h < 2; ++h)
            s += bf16_to_f32(uint16_t(Ap[p * kMR + i] >> (16 * h))) *
                 bf16_to_f32(Bp[(p * kNR + j) * 2 + h]);
        if (bias) s += bias[j];
        C[i * ldc + j] = load_c ? C[i * ldc + j] + s : s;
      }
  }
#endif
};

// bf16-rounded float32 values through the float32 kernels (the small-M one for M ≤ kGemvMaxM,
// same order). BF16 weights, stored or repacked, are used as they are; F32/F16 ones are rounded
// into a copy. A is rounded as the blocked kernel packs it (gemm_f32_round_a), or into a copy
// for the small-M kernel. The copies live in per-thread buffers that only grow, so decode
// steps do not allocate on this path either. The bf16 path of CPUs without AVX512_BF16 (AVX2:
// Zen 3).
void gemm_bf16_emulated(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                        int64_t M, int64_t N, int64_t K, const Epilogue& ep) {
  thread_local std::vector<float> abuf;
  thread_local std::vector<uint16_t> bbuf;
  BMatrix bb = B;
  if (B.dtype != DType::kBF16) {
    uint16_t* b = scratch(bbuf, size_t(N * K));
    for (int64_t n = 0; n < N; ++n) row_to_bf16(B, n, K, b + n * K);
    bb = BMatrix{DType::kBF16, b, K};
  }
  if (M > kGemvMaxM) return gemm_f32_round_a(A, lda, bb, C, ldc, M, N, K, ep);
  float* a = scratch(abuf, size_t(M * K));
  for (int64_t i = 0; i < M; ++i) round_bf16_values(A + i * lda, K, a + i * K);
  gemv_f32(a, K, bb, C, ldc, M, N, K, ep);
}

Bf16Kernel kernel_from_env() {
  const char* e = std::getenv("DSVL_BF16_KERNEL");
  if (!e) return Bf16Kernel::kAuto;
  if (!std::strcmp(e, "amx")) return Bf16Kernel::kAmx;
  if (!std::strcmp(e, "dot")) return Bf16Kernel::kDot;
  if (!std::strcmp(e, "emul")) return Bf16Kernel::kEmulated;
  return Bf16Kernel::kAuto;
}

std::atomic<Bf16Kernel>& chosen() {
  static std::atomic<Bf16Kernel> k{kernel_from_env()};
  return k;
}

}  // namespace

void set_bf16_kernel(Bf16Kernel k) { chosen() = k; }

Bf16Kernel bf16_kernel() {
  Bf16Kernel k = chosen();
  if (k == Bf16Kernel::kAuto || (k == Bf16Kernel::kAmx && !amx_usable()))
    k = amx_usable() ? Bf16Kernel::kAmx : Bf16Kernel::kDot;
#if !defined(__AVX512BF16__)
  if (k == Bf16Kernel::kDot) k = Bf16Kernel::kEmulated;
#endif
  return k;
}

void gemm_bf16_dot(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep) {
  gemm_blocked<DotKernel>(A, lda, B, C, ldc, M, N, K, ep);
}

void gemm_bf16(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
               int64_t N, int64_t K, const Epilogue& ep) {
  switch (bf16_kernel()) {
    case Bf16Kernel::kAmx:
      if (gemm_bf16_amx(A, lda, B, C, ldc, M, N, K, ep)) return;
      [[fallthrough]];
    case Bf16Kernel::kDot:
#if defined(__AVX512BF16__)
      if (M <= kGemvMaxM) return gemv_bf16_dot(A, lda, B, C, ldc, M, N, K, ep);
      return gemm_bf16_dot(A, lda, B, C, ldc, M, N, K, ep);
#endif
    default:
      return gemm_bf16_emulated(A, lda, B, C, ldc, M, N, K, ep);
  }
}

}  // namespace dsvl::kernels::detail
