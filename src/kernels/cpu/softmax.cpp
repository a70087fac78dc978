#if defined(__AVX512F__) && !defined(__clang__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/threadpool.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels {

float softmax_max(const float* x, int64_t n) {
  int64_t i = 0;
  float mx = -std::numeric_limits<float>::infinity();
#if defined(__AVX512F__)
  __m512 vmx = _mm512_set1_ps(mx);
  for (; i + 16 <= n; i += 16) vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(x + i));
  mx = _mm512_reduce_max_ps(vmx);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 vmx = _mm256_set1_ps(mx);
  for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + i));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmx);
  for (const float l : lanes) mx = std::max(mx, l);
#endif
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  return mx;
}

double softmax_exp(float* x, int64_t n, float m) {
  int64_t i = 0;
  double sum = 0.0;  // the scalar tail (the whole row without AVX-512) sums serially: use double
#if defined(__AVX512F__)
  const __m512 vm = _mm512_set1_ps(m);
  __m512 vs = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    const __m512 e = vecmath::exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    _mm512_storeu_ps(x + i, e);
    vs = _mm512_add_ps(vs, e);
  }
  sum = _mm512_reduce_add_ps(vs);
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 vm = _mm256_set1_ps(m);
  __m256 vs = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    const __m256 e = vecmath::exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  sum = simd::hsum(vs);
#endif
  for (; i < n; ++i) {
    x[i] = vecmath::exp_scalar(x[i] - m);
    sum += x[i];
  }
  return sum;
}

void softmax_scale(float* x, int64_t n, float s) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 vs = _mm512_set1_ps(s);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 vs = _mm256_set1_ps(s);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
#endif
  for (; i < n; ++i) x[i] *= s;
}

void softmax_row(float* x, int64_t n) {
  if (n <= 0) return;
  const double sum = softmax_exp(x, n, softmax_max(x, n));
  softmax_scale(x, n, float(1.0 / sum));
}

void softmax_rows(float* x, int64_t M, int64_t n, int64_t ld) {
  parallel_for(
      M,
      [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) softmax_row(x + m * ld, n);
      },
      std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)));
}

void softmax_rows_ref(float* x, int64_t M, int64_t n, int64_t ld) {
  for (int64_t m = 0; m < M; ++m) {
    float* r = x + m * ld;
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(r[i]));
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(r[i]) - mx);
    for (int64_t i = 0; i < n; ++i) r[i] = float(std::exp(double(r[i]) - mx) / sum);
  }
}

}  // namespace dsvl::kernels
