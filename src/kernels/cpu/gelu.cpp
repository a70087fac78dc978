#if defined(__AVX512F__) && !defined(__clang__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/gelu.h"

#include <algorithm>
#include <cmath>

#include "core/threadpool.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;

void gelu_range(float* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512 s = _mm512_set1_ps(kInvSqrt2);
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 e = vecmath::erf16(_mm512_mul_ps(v, s));
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, e)));
  }
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 s = _mm256_set1_ps(kInvSqrt2);
  const auto gelu8 = [&](__m256 v) {
    return _mm256_mul_ps(_mm256_mul_ps(half, v),
                         _mm256_add_ps(one, vecmath::erf8(_mm256_mul_ps(v, s))));
  };
  for (; i < n; i += 8) {  // masked loads and stores for the tail only (simd::load_n)
    const int w = int(std::min<int64_t>(8, n - i));
    simd::store_n(x + i, w, gelu8(simd::load_n(x + i, w)));
  }
#endif
  for (; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + vecmath::erf_scalar(x[i] * kInvSqrt2));
}

}  // namespace

void gelu(float* x, int64_t n) {
  // Chunks of 4096 floats (16 KB) keep the per-call overhead negligible.
  constexpr int64_t kChunk = 4096;
  parallel_for((n + kChunk - 1) / kChunk,
               [&](int64_t c0, int64_t c1) {
                 const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
                 gelu_range(x + b, e - b);
               },
               4);
}

void gelu_ref(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = float(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
}

}  // namespace dsvl::kernels
