// Small SIMD helpers shared by the GEMM kernels. AVX-512: masked widening loads of half types,
// round-to-nearest-even to bf16 (bit-exact with dsvl::f32_to_bf16, denormals kept), and a
// 16×16 float transpose. AVX2 + FMA (CPUs without AVX-512, e.g. Zen 3): the same names on
// 8-lane vectors where the kernels need them. Only meaningful with -march=native.
#pragma once

#include <cstdint>

#if defined(__AVX512F__)
// GCC 12 reports false "(may be) used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps as the pass-through of unmasked shuffles and masked loads). These
// middle-end warnings ignore push/pop around the include, so kernel files silence them.
// (Clang has its own headers and no -Wmaybe-uninitialized: it would warn of the pragma.)
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace dsvl::kernels::simd {

// Sum of the 16 lanes. (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its header.)
inline float hsum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));  // swap 256-bit halves
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));  // swap 128-bit lanes
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));        // swap 64-bit pairs
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));        // swap neighbours
  return _mm512_cvtss_f32(v);
}

// Mask of the first n lanes (none for n ≤ 0, all for n ≥ 16).
inline __mmask16 mask16(int n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

inline __m512 load_f16(const uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 load_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 widen_bf16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 load_bf16(const uint16_t* p, __mmask16 m) {
  return widen_bf16(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 load_bf16(const uint16_t* p) {
  return widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// 16 bf16 pairs (k, k+1) in 32-bit lanes: the even-k values and the odd-k values as floats.
inline __m512 bf16_pair_even(__m512i p) { return _mm512_castsi512_ps(_mm512_slli_epi32(p, 16)); }
inline __m512 bf16_pair_odd(__m512i p) {
  return _mm512_castsi512_ps(_mm512_and_si512(p, _mm512_set1_epi32(int(0xFFFF0000u))));
}

// 16 floats → 16 bf16 in the low halves of 32-bit lanes, round to nearest even, NaN quieted.
// Integer arithmetic (not vcvtneps2bf16) so denormals round exactly like f32_to_bf16.
inline __m512i round_bf16_lanes(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r =
      _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  return _mm512_mask_mov_epi32(r, nan,
                               _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
}

// 32 floats (lo = elements 0..15, hi = 16..31) → 32 bf16 in order.
inline __m512i round_bf16x32(__m512 lo, __m512 hi) {
  const __m256i l = _mm512_cvtepi32_epi16(round_bf16_lanes(lo));
  const __m256i h = _mm512_cvtepi32_epi16(round_bf16_lanes(hi));
  return _mm512_inserti64x4(_mm512_castsi256_si512(l), h, 1);
}

// In-place transpose: r[i] lane j ↔ r[j] lane i. Unpack pairs, then quads, then 128-bit lanes.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i+q] lane L = column 4L+q of rows 4i..4i+3.
  __m512 u[16];
  for (int i = 0; i < 4; ++i) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int q = 0; q < 4; ++q) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88);
    const __m512 w0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xDD);
    const __m512 v1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xDD);
    r[q] = _mm512_shuffle_f32x4(v0, v1, 0x88);       // column q
    r[4 + q] = _mm512_shuffle_f32x4(w0, w1, 0x88);   // column 4+q
    r[8 + q] = _mm512_shuffle_f32x4(v0, v1, 0xDD);   // column 8+q
    r[12 + q] = _mm512_shuffle_f32x4(w0, w1, 0xDD);  // column 12+q
  }
}

}  // namespace dsvl::kernels::simd

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace dsvl::kernels::simd {

// Sum of the 8 lanes.
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lane mask (all ones in lanes < n) for _mm256_maskload_ps / _mm256_maskstore_ps.
inline __m256i mask8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first n floats at p (n ≥ 8: all 8): plain loads and stores where the vector is whole,
// masked ones only for a short tail. AMD microcodes vmaskmovps stores (Zen 3: a masked
// load + store per 8 floats doubled the cost of a GELU step).
inline __m256 load_n(const float* p, int n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask8(n));
}
inline void store_n(float* p, int n, __m256 x) {
  if (n >= 8)
    _mm256_storeu_ps(p, x);
  else
    _mm256_maskstore_ps(p, mask8(n), x);
}

// 8 f16 values widened (exactly) to floats.
inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// 8 bf16 values widened (exactly) to floats.
inline __m256 load_bf16(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// 8 bf16 pairs (k, k+1) in 32-bit lanes: the even-k values and the odd-k values as floats.
inline __m256 bf16_pair_even(__m256i p) { return _mm256_castsi256_ps(_mm256_slli_epi32(p, 16)); }
inline __m256 bf16_pair_odd(__m256i p) {
  return _mm256_castsi256_ps(_mm256_and_si256(p, _mm256_set1_epi32(int(0xFFFF0000u))));
}

// bf16_to_f32(f32_to_bf16(x)) lane by lane: rounded to nearest even, NaN quieted.
inline __m256 round_to_bf16(__m256 x) {
  const __m256i u = _mm256_castps_si256(x), hi = _mm256_set1_epi32(int(0xFFFF0000u));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r =
      _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), hi);
  const __m256i q = _mm256_or_si256(_mm256_and_si256(u, hi), _mm256_set1_epi32(0x400000));
  return _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q),
                          _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// In-place 8×8 transpose: r[i] lane j ↔ r[j] lane i.
inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int q = 0; q < 4; ++q) {
    r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
    r[4 + q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
  }
}

}  // namespace dsvl::kernels::simd

#endif  // __AVX512F__ / __AVX2__
