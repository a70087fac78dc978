// Packing of the B operand (a weight [N, K]) into k-major panels of kNR columns, in float32
// or in bf16 pairs, and conversion of activations to bf16. Weights are read in their stored
// dtype and widened or rounded here, so no full converted copy of a weight ever exists.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/bmatrix_load.h"

namespace dsvl::kernels::detail {
namespace {

// Scalar element (n, k) of B as float32.
[[maybe_unused]] float b_at(const BMatrix& B, int64_t n, int64_t k) {
  if (B.panels) return bf16_to_f32(panel_at(B, n, k));
  const int64_t i = n * B.ld + k;
  switch (B.dtype) {
    case DType::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(B.data)[i]);
    case DType::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(B.data)[i]);
    default:
      return static_cast<const float*>(B.data)[i];
  }
}

[[maybe_unused]] uint16_t b_at_bf16(const BMatrix& B, int64_t n, int64_t k) {
  if (B.panels) return panel_at(B, n, k);
  if (B.dtype == DType::kBF16) return static_cast<const uint16_t*>(B.data)[n * B.ld + k];
  return f32_to_bf16(b_at(B, n, k));
}

#if defined(__AVX512F__)

// 16 rows × 16 columns of B starting at (n, k) widened to float32, k-tail masked by m;
// rows ≥ rows_valid are zero. Then transposed so out[c] holds column k+c of the 16 rows.
template <DType D>
void load_transpose_f32(const BMatrix& B, int64_t n, int rows_valid, int64_t k, __mmask16 m,
                        __m512 r[16]) {
  for (int j = 0; j < 16; ++j)
    r[j] = j < rows_valid ? load_b_f32<D>(B, n + j, k, m) : _mm512_setzero_ps();
  simd::transpose16x16(r);
}

template <DType D>
void pack_b_f32_t(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, float* dst) {
  for (int jg = 0; jg < kNR; jg += 16) {
    const int rows_valid = std::clamp(nr - jg, 0, 16);
    for (int k = 0; k < kc; k += 16) {
      const int kt = std::min(16, kc - k);
      __m512 cols[16];
      if (rows_valid == 0) {
        for (auto& c : cols) c = _mm512_setzero_ps();
      } else {
        load_transpose_f32<D>(B, n0 + jg, rows_valid, k0 + k, simd::mask16(kt), cols);
      }
      for (int c = 0; c < kt; ++c) _mm512_storeu_ps(dst + (k + c) * kNR + jg, cols[c]);
    }
  }
}

template <DType D>
void pack_b_bf16_t(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, uint16_t* dst) {
  const int kp = (kc + 1) / 2;  // pairs
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst);
  for (int jg = 0; jg < kNR; jg += 16) {
    const int rows_valid = std::clamp(nr - jg, 0, 16);
    for (int p = 0; p < kp; p += 16) {
      const int pt = std::min(16, kp - p);
      __m512 r[16];
      for (int j = 0; j < 16; ++j)
        r[j] = j < rows_valid ? _mm512_castsi512_ps(load_b_bf16<D>(B, n0 + jg + j, k0 + 2 * p,
                                                                   std::min(32, kc - 2 * p)))
                              : _mm512_setzero_ps();
      simd::transpose16x16(r);
      for (int c = 0; c < pt; ++c)
        _mm512_storeu_si512(d32 + (p + c) * kNR + jg, _mm512_castps_si512(r[c]));
    }
  }
}

#endif  // __AVX512F__

[[maybe_unused]] void pack_b_f32_scalar(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc,
                                        float* dst) {
  for (int k = 0; k < kc; ++k)
    for (int j = 0; j < kNR; ++j) dst[k * kNR + j] = j < nr ? b_at(B, n0 + j, k0 + k) : 0.0f;
}

[[maybe_unused]] void pack_b_bf16_scalar(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc,
                                         uint16_t* dst) {
  const int kp = (kc + 1) / 2;
  for (int p = 0; p < kp; ++p)
    for (int j = 0; j < kNR; ++j)
      for (int h = 0; h < 2; ++h) {
        const int k = 2 * p + h;
        dst[(p * kNR + j) * 2 + h] = (j < nr && k < kc) ? b_at_bf16(B, n0 + j, k0 + k) : 0;
      }
}

// pack_b_bf16 from repacked panels: whole pair rows copied when the block starts on a panel
// and a pair (always, from the GEMM drivers), else element by element.
void pack_b_bf16_panels(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, uint16_t* dst) {
  const int kp = (kc + 1) / 2;
  if (n0 % kNR != 0 || k0 % 2 != 0 || (kc % 2 != 0 && k0 + kc < B.ld))
    return pack_b_bf16_scalar(B, n0, nr, k0, kc, dst);
  const uint16_t* src =
      static_cast<const uint16_t*>(B.data) + n0 / kNR * panel_elems(B.ld) + k0 / 2 * 2 * kNR;
  std::memcpy(dst, src, size_t(kp) * 2 * kNR * sizeof(uint16_t));
  if (nr < kNR)
    for (int p = 0; p < kp; ++p)
      std::memset(dst + (p * kNR + nr) * 2, 0, size_t(kNR - nr) * 2 * sizeof(uint16_t));
}

#if defined(__AVX512F__)
// pack_b_f32 from repacked panels (BF16): each pair row's 32 columns split into the even-k
// and odd-k floats, no transposes, when the block starts on a panel and a pair (always, from
// the GEMM driver), else element by element.
void pack_b_f32_panels(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, float* dst) {
  if (n0 % kNR != 0 || k0 % 2 != 0) return pack_b_f32_scalar(B, n0, nr, k0, kc, dst);
  const uint32_t* src =
      static_cast<const uint32_t*>(B.data) + n0 / kNR * (panel_elems(B.ld) / 2) + k0 / 2 * kNR;
  const __mmask16 m0 = simd::mask16(nr), m1 = simd::mask16(nr - 16);
  for (int k = 0; k < kc; k += 2) {
    const uint32_t* s = src + k / 2 * kNR;
    const __m512i lo = _mm512_maskz_loadu_epi32(m0, s), hi = _mm512_maskz_loadu_epi32(m1, s + 16);
    float* d = dst + k * kNR;
    _mm512_storeu_ps(d, simd::bf16_pair_even(lo));
    _mm512_storeu_ps(d + 16, simd::bf16_pair_even(hi));
    if (k + 1 == kc) break;
    _mm512_storeu_ps(d + kNR, simd::bf16_pair_odd(lo));
    _mm512_storeu_ps(d + kNR + 16, simd::bf16_pair_odd(hi));
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
// pack_b_f32 from repacked panels, AVX2: as above with four 8-pair vectors per pair row (the
// padding columns of a repacked panel are zero, so whole rows are read; columns ≥ nr cleared).
void pack_b_f32_panels(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, float* dst) {
  if (n0 % kNR != 0 || k0 % 2 != 0) return pack_b_f32_scalar(B, n0, nr, k0, kc, dst);
  const uint32_t* src =
      static_cast<const uint32_t*>(B.data) + n0 / kNR * (panel_elems(B.ld) / 2) + k0 / 2 * kNR;
  for (int k = 0; k < kc; k += 2) {
    const uint32_t* s = src + k / 2 * kNR;
    float* d = dst + k * kNR;
    const bool odd = k + 1 < kc;
    for (int v = 0; v < kNR; v += 8) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + v));
      _mm256_storeu_ps(d + v, simd::bf16_pair_even(w));
      if (odd) _mm256_storeu_ps(d + kNR + v, simd::bf16_pair_odd(w));
    }
    if (nr < kNR)
      for (int h = 0; h < (odd ? 2 : 1); ++h) std::fill(d + h * kNR + nr, d + (h + 1) * kNR, 0.0f);
  }
}
#endif

// pack_b_bf16 from rows in their stored dtype, row by row without a dtype switch per element
// (without AVX-512: the load-time repacking of every weight runs through here).
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// 16 consecutive values of a row as 8 bf16 pairs (k even in the low half of each 32-bit word),
// rounded to nearest even from F32/F16 like f32_to_bf16.
template <typename T>
__m256i load_pairs8(const T* src, DType dtype) {
  __m256 lo, hi;
  if constexpr (std::is_same_v<T, float>) {
    lo = _mm256_loadu_ps(src), hi = _mm256_loadu_ps(src + 8);
  } else {
    if (dtype == DType::kBF16) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    lo = simd::load_f16(src), hi = simd::load_f16(src + 8);
  }
  const __m256i a = _mm256_srli_epi32(_mm256_castps_si256(simd::round_to_bf16(lo)), 16);
  const __m256i b = _mm256_srli_epi32(_mm256_castps_si256(simd::round_to_bf16(hi)), 16);
  // packus interleaves the 128-bit halves (a0-3 b0-3 a4-7 b4-7): put the quarters in order.
  return _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
}
#endif

template <typename T, typename Round>
[[maybe_unused]] void pack_b_bf16_rows(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc,
                                       uint16_t* dst, Round round) {
  const int kp = (kc + 1) / 2;
  int p0 = 0;  // pairs [0, p0) done in registers
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
  // 8 rows × 8 pairs at a time as an 8×8 transpose of 32-bit words: each pair of a row lands
  // in its column of a panel pair row (the load-time repack of every LLM weight runs here).
  p0 = kc / 16 * 8;
  auto* dst32 = reinterpret_cast<uint32_t*>(dst);
  for (int j = 0; j < kNR; j += 8)
    for (int p = 0; p < p0; p += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = j + i < nr
                   ? _mm256_castsi256_ps(load_pairs8(
                         static_cast<const T*>(B.data) + (n0 + j + i) * B.ld + k0 + 2 * p, B.dtype))
                   : _mm256_setzero_ps();
      simd::transpose8x8(r);
      for (int c = 0; c < 8; ++c)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst32 + (p + c) * kNR + j),
                            _mm256_castps_si256(r[c]));
    }
#endif
  for (int j = 0; j < nr; ++j) {
    const T* src = static_cast<const T*>(B.data) + (n0 + j) * B.ld + k0;
    for (int p = p0; p < kc / 2; ++p) {
      dst[(p * kNR + j) * 2] = round(src[2 * p]);
      dst[(p * kNR + j) * 2 + 1] = round(src[2 * p + 1]);
    }
    if (kc % 2 != 0) {
      dst[((kp - 1) * kNR + j) * 2] = round(src[kc - 1]);
      dst[((kp - 1) * kNR + j) * 2 + 1] = 0;
    }
  }
  if (nr < kNR)
    for (int p = p0; p < kp; ++p)
      std::memset(dst + (p * kNR + nr) * 2, 0, size_t(kNR - nr) * 2 * sizeof(uint16_t));
}

// pack_b_f32 from rows in their stored dtype, without a dtype switch per element: with AVX2,
// 8 rows × 8 k widened into registers and transposed, the k tail element by element.
template <typename T, typename Widen>
[[maybe_unused]] void pack_b_f32_rows(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc,
                                      float* dst, Widen widen) {
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
  const int k8 = kc / 8 * 8;
  for (int j = 0; j < kNR; j += 8)
    for (int k = 0; k < k8; k += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) {
        if (j + i >= nr) {
          r[i] = _mm256_setzero_ps();
          continue;
        }
        const T* src = static_cast<const T*>(B.data) + (n0 + j + i) * B.ld + k0 + k;
        if constexpr (std::is_same_v<T, float>)
          r[i] = _mm256_loadu_ps(src);
        else
          r[i] = B.dtype == DType::kF16 ? simd::load_f16(src) : simd::load_bf16(src);
      }
      simd::transpose8x8(r);
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(dst + (k + c) * kNR + j, r[c]);
    }
  for (int j = 0; j < kNR; ++j) {
    const T* src = j < nr ? static_cast<const T*>(B.data) + (n0 + j) * B.ld + k0 : nullptr;
    for (int k = k8; k < kc; ++k) dst[k * kNR + j] = src ? widen(src[k]) : 0.0f;
  }
#else
  for (int j = 0; j < nr; ++j) {
    const T* src = static_cast<const T*>(B.data) + (n0 + j) * B.ld + k0;
    for (int k = 0; k < kc; ++k) dst[k * kNR + j] = widen(src[k]);
  }
  if (nr < kNR)
    for (int k = 0; k < kc; ++k) std::fill(dst + k * kNR + nr, dst + (k + 1) * kNR, 0.0f);
#endif
}

}  // namespace

void pack_b_f32(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, float* dst) {
#if defined(__AVX512F__)
  if (B.panels) return pack_b_f32_panels(B, n0, nr, k0, kc, dst);
  switch (B.dtype) {
    case DType::kF32:
      return pack_b_f32_t<DType::kF32>(B, n0, nr, k0, kc, dst);
    case DType::kF16:
      return pack_b_f32_t<DType::kF16>(B, n0, nr, k0, kc, dst);
    default:
      return pack_b_f32_t<DType::kBF16>(B, n0, nr, k0, kc, dst);
  }
#else
  if (B.panels) {
#if defined(__AVX2__) && defined(__FMA__)
    return pack_b_f32_panels(B, n0, nr, k0, kc, dst);
#else
    return pack_b_f32_scalar(B, n0, nr, k0, kc, dst);
#endif
  }
  switch (B.dtype) {
    case DType::kF32:
      return pack_b_f32_rows<float>(B, n0, nr, k0, kc, dst, [](float x) { return x; });
    case DType::kF16:
      return pack_b_f32_rows<uint16_t>(B, n0, nr, k0, kc, dst, f16_to_f32);
    default:
      return pack_b_f32_rows<uint16_t>(B, n0, nr, k0, kc, dst, bf16_to_f32);
  }
#endif
}

void pack_b_bf16(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, uint16_t* dst) {
  if (B.panels) return pack_b_bf16_panels(B, n0, nr, k0, kc, dst);
#if defined(__AVX512F__)
  switch (B.dtype) {
    case DType::kF32:
      return pack_b_bf16_t<DType::kF32>(B, n0, nr, k0, kc, dst);
    case DType::kF16:
      return pack_b_bf16_t<DType::kF16>(B, n0, nr, k0, kc, dst);
    default:
      return pack_b_bf16_t<DType::kBF16>(B, n0, nr, k0, kc, dst);
  }
#else
  switch (B.dtype) {
    case DType::kF32:
      return pack_b_bf16_rows<float>(B, n0, nr, k0, kc, dst, f32_to_bf16);
    case DType::kF16:
      return pack_b_bf16_rows<uint16_t>(B, n0, nr, k0, kc, dst,
                                        [](uint16_t h) { return f32_to_bf16(f16_to_f32(h)); });
    default:
      return pack_b_bf16_rows<uint16_t>(B, n0, nr, k0, kc, dst, [](uint16_t h) { return h; });
  }
#endif
}

void round_bf16_values(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, simd::round_to_bf16(_mm256_loadu_ps(src + i)));
#endif
  for (; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

void row_to_bf16(const BMatrix& B, int64_t n, int64_t K, uint16_t* dst) {
  int64_t k = 0;
#if defined(__AVX512F__)
  for (; !B.panels && k + 32 <= K; k += 32) {
    __m512i v;
    switch (B.dtype) {
      case DType::kF32:
        v = load_b_bf16<DType::kF32>(B, n, k, 32);
        break;
      case DType::kF16:
        v = load_b_bf16<DType::kF16>(B, n, k, 32);
        break;
      default:
        v = load_b_bf16<DType::kBF16>(B, n, k, 32);
    }
    _mm512_storeu_si512(dst + k, v);
  }
#endif
  for (; k < K; ++k) dst[k] = b_at_bf16(B, n, k);
}

void pack_panel(const BMatrix& B, int64_t n0, int nr, int64_t K, uint16_t* dst) {
  const int64_t packed = (K + 1) / 2 * 2 * kNR;  // the pairs pack_b_bf16 writes
  pack_b_bf16(B, n0, nr, 0, int(K), dst);
  std::memset(dst + packed, 0, size_t(panel_elems(K) - packed) * sizeof(uint16_t));
}

void pack_panels(const BMatrix& B, int64_t N, int64_t K, int64_t p0, int64_t p1, uint16_t* dst) {
  for (int64_t p = p0; p < p1; ++p)
    pack_panel(B, p * kNR, int(std::min<int64_t>(kNR, N - p * kNR)), K, dst + p * panel_elems(K));
}

void convert_a_bf16(const float* A, int64_t lda, int64_t m, int64_t k0, int64_t kc, uint16_t* dst,
                    int64_t ldd) {
  for (int64_t i = 0; i < m; ++i) {
    const float* a = A + i * lda + k0;
    uint16_t* d = dst + i * ldd;
    int64_t k = 0;
#if defined(__AVX512F__)
    for (; k + 32 <= kc; k += 32)
      _mm512_storeu_si512(d + k,
                          simd::round_bf16x32(_mm512_loadu_ps(a + k), _mm512_loadu_ps(a + k + 16)));
#endif
    for (; k < kc; ++k) d[k] = f32_to_bf16(a[k]);
    for (; k < ldd; ++k) d[k] = 0;
  }
}

}  // namespace dsvl::kernels::detail
