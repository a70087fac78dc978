// Vectorised exp and erf for the softmax and GELU kernels. std::exp / std::erf cost 5-20 ns
// each; SAM-B at 1024 needs ~0.8 G exps (global attention) and ~0.15 G erfs per image, so the
// hot loops use these 16-lane AVX-512 versions (accuracy ~1e-7 relative, i.e. a few float32
// ulps; the conformance tolerance is 1e-4 relative), or 8-lane AVX2 versions of the same
// formulas (same bits: every step is one rounded float32 operation in both). Builds with
// neither use the scalar forms below, which follow the same formulas.
#pragma once

#include <cmath>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace dsvl::kernels::vecmath {

// exp(x): x = n·ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by its Taylor series to
// degree 7 (truncation error < 6e-9), then scaled by 2^n. Inputs below -87 are clamped there
// (e^-87 ~ 1.6e-38, the smallest normal float) so no denormals enter the softmax sums.
inline constexpr float kExpLo = -87.0f, kExpHi = 88.0f;
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kExpC[8] = {1.0f,         1.0f,          0.5f,          1.0f / 6.0f,
                                   1.0f / 24.0f, 1.0f / 120.0f, 1.0f / 720.0f, 1.0f / 5040.0f};

inline float exp_scalar(float x) {
  x = std::fmin(std::fmax(x, kExpLo), kExpHi);
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float p = kExpC[7];
  for (int i = 6; i >= 0; --i) p = std::fma(p, r, kExpC[i]);
  return std::ldexp(p, int(n));
}

// erf(z). |z| < 0.8: z·P(z²) with the Taylor coefficients 2/√π·(-1)^n/(n!(2n+1)), n = 0..10
// (relative error < 2e-7). 0.8 <= |z| <= 4: 1 - e^{-z²}·R(z) where R(z) = erfc(z)·e^{z²} is a
// degree-12 Chebyshev interpolant on [0.8, 4] (fitted in long double for this file, written as
// monomials in t = (2z - 4.8)/3.2); absolute error < 7e-8. |z| > 4: ±1 (erfc(4) = 1.5e-8 is
// below half an ulp of 1).
inline constexpr float kErfTaylor[11] = {1.128379226e+00f,  -3.761263788e-01f, 1.128379181e-01f,
                                         -2.686617151e-02f, 5.223977845e-03f,  -8.548327023e-04f,
                                         1.205533263e-04f,  -1.492565025e-05f, 1.646211444e-06f,
                                         -1.636584415e-07f, 1.480719281e-08f};
inline constexpr float kErfcR[13] = {
    2.184987366e-01f,  -1.273363382e-01f, 7.038501650e-02f,  -3.713652864e-02f, 1.879406720e-02f,
    -9.147924371e-03f, 4.308655392e-03f,  -2.006180119e-03f, 8.861223469e-04f,  -3.138676693e-04f,
    1.344152843e-04f,  -1.097251152e-04f, 4.300882574e-05f};
inline constexpr float kErfSplit = 0.8f, kErfMax = 4.0f;

inline float erf_scalar(float z) {
  const float a = std::fmin(std::fabs(z), kErfMax);
  float r;
  if (a < kErfSplit) {
    const float a2 = a * a;
    float p = kErfTaylor[10];
    for (int i = 9; i >= 0; --i) p = std::fma(p, a2, kErfTaylor[i]);
    r = a * p;
  } else {
    const float t = (2.0f * a - (kErfSplit + kErfMax)) * (1.0f / (kErfMax - kErfSplit));
    float p = kErfcR[12];
    for (int i = 11; i >= 0; --i) p = std::fma(p, t, kErfcR[i]);
    r = 1.0f - exp_scalar(-a * a) * p;
  }
  return std::copysign(r, z);
}

#if defined(__AVX512F__)
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpLo)), _mm512_set1_ps(kExpHi));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpC[7]);
  for (int i = 6; i >= 0; --i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC[i]));
  return _mm512_scalef_ps(p, n);
}

// SiLU(g) = g / (1 + e^(−g)), float32 as torch.nn.functional.silu. Where −g is past exp16's
// range the lane takes e = +inf, as std::exp overflows, so the result is −0 there.
inline __m512 silu16(__m512 g) {
  __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
  e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(g, _mm512_set1_ps(-kExpHi), _CMP_LT_OQ),
                         _mm512_set1_ps(INFINITY));
  return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 erf16(__m512 z) {
  const __m512 sign = _mm512_and_ps(z, _mm512_set1_ps(-0.0f));
  const __m512 a = _mm512_min_ps(_mm512_abs_ps(z), _mm512_set1_ps(kErfMax));
  const __m512 a2 = _mm512_mul_ps(a, a);
  __m512 small = _mm512_set1_ps(kErfTaylor[10]);
  for (int i = 9; i >= 0; --i) small = _mm512_fmadd_ps(small, a2, _mm512_set1_ps(kErfTaylor[i]));
  small = _mm512_mul_ps(a, small);
  const __m512 t =
      _mm512_mul_ps(_mm512_sub_ps(_mm512_add_ps(a, a), _mm512_set1_ps(kErfSplit + kErfMax)),
                    _mm512_set1_ps(1.0f / (kErfMax - kErfSplit)));
  __m512 p = _mm512_set1_ps(kErfcR[12]);
  for (int i = 11; i >= 0; --i) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kErfcR[i]));
  const __m512 large =
      _mm512_fnmadd_ps(exp16(_mm512_sub_ps(_mm512_setzero_ps(), a2)), p, _mm512_set1_ps(1.0f));
  const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(kErfSplit), _CMP_LT_OQ);
  return _mm512_or_ps(_mm512_mask_blend_ps(is_small, large, small), sign);
}
#elif defined(__AVX2__) && defined(__FMA__)
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpLo)), _mm256_set1_ps(kExpHi));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpC[7]);
  for (int i = 6; i >= 0; --i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC[i]));
  // 2^n for n in [-126, 127] (the clamp above keeps it there) is an exact normal float, so the
  // product rounds once, as _mm512_scalef_ps and std::ldexp do.
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 silu8(__m256 g) {
  __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY),
                       _mm256_cmp_ps(g, _mm256_set1_ps(-kExpHi), _CMP_LT_OQ));
  return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 erf8(__m256 z) {
  const __m256 sign = _mm256_and_ps(z, _mm256_set1_ps(-0.0f));
  const __m256 a =
      _mm256_min_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), z), _mm256_set1_ps(kErfMax));
  const __m256 a2 = _mm256_mul_ps(a, a);
  __m256 small = _mm256_set1_ps(kErfTaylor[10]);
  for (int i = 9; i >= 0; --i) small = _mm256_fmadd_ps(small, a2, _mm256_set1_ps(kErfTaylor[i]));
  small = _mm256_mul_ps(a, small);
  const __m256 t =
      _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(a, a), _mm256_set1_ps(kErfSplit + kErfMax)),
                    _mm256_set1_ps(1.0f / (kErfMax - kErfSplit)));
  __m256 p = _mm256_set1_ps(kErfcR[12]);
  for (int i = 11; i >= 0; --i) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kErfcR[i]));
  const __m256 large =
      _mm256_fnmadd_ps(exp8(_mm256_sub_ps(_mm256_setzero_ps(), a2)), p, _mm256_set1_ps(1.0f));
  const __m256 is_small = _mm256_cmp_ps(a, _mm256_set1_ps(kErfSplit), _CMP_LT_OQ);
  return _mm256_or_ps(_mm256_blendv_ps(large, small, is_small), sign);
}
#endif

}  // namespace dsvl::kernels::vecmath
