#if defined(__AVX512F__) && !defined(__clang__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/layernorm.h"

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/threadpool.h"

namespace dsvl::kernels {
namespace {

// Sum of n floats with 16 independent lanes (keeps the float32 rounding error near
// sqrt(n/16) ulps instead of the n ulps of one serial accumulator).
float sum_row(const float* x, int64_t n) {
  int64_t i = 0;
  double s = 0.0;  // the scalar tail (the whole row without AVX-512) sums serially: use double
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + i));
  s = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) s += x[i];
  return float(s);
}

float sum_sq_row(const float* x, int64_t n, float mean) {
  int64_t i = 0;
  double s = 0.0;
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  const __m512 mu = _mm512_set1_ps(mean);
  for (; i + 16 <= n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), mu);
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  s = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) s += double(x[i] - mean) * double(x[i] - mean);
  return float(s);
}

void norm_row(const float* x, int64_t C, const float* w, const float* b, float eps, float* y) {
  // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] − E[x]².
  const float mean = sum_row(x, C) / float(C);
  const float var = sum_sq_row(x, C, mean) / float(C);
  const float rstd = 1.0f / std::sqrt(var + eps);
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 mu = _mm512_set1_ps(mean), rs = _mm512_set1_ps(rstd);
  for (; i + 16 <= C; i += 16) {
    const __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mu), rs);
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(n, _mm512_loadu_ps(w + i), _mm512_loadu_ps(b + i)));
  }
#endif
  for (; i < C; ++i) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

}  // namespace

void layernorm(const float* x, int64_t M, int64_t C, const float* w, const float* b, float eps,
               float* y) {
  parallel_for(
      M,
      [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) norm_row(x + m * C, C, w, b, eps, y + m * C);
      },
      16);
}

void layernorm_ref(const float* x, int64_t M, int64_t C, const float* w, const float* b, float eps,
                   float* y) {
  for (int64_t m = 0; m < M; ++m) {
    const float* r = x + m * C;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < C; ++i) mean += r[i];
    mean /= double(C);
    for (int64_t i = 0; i < C; ++i) var += (r[i] - mean) * (r[i] - mean);
    var /= double(C);
    const double rstd = 1.0 / std::sqrt(var + double(eps));
    for (int64_t i = 0; i < C; ++i) y[m * C + i] = float((r[i] - mean) * rstd * w[i] + b[i]);
  }
}

}  // namespace dsvl::kernels
