#include "kernels/cpu/rmsnorm.h"

#include <algorithm>
#include <cmath>

#include "core/threadpool.h"
#include "kernels/cpu/simd.h"

namespace dsvl::kernels {
namespace {

void rmsnorm_row(const float* x, int64_t dim, const float* w, float eps, float* y) {
  // The mean of squares is accumulated in double: torch's float32 reduction is a pairwise sum,
  // which is much closer to the exact value than a running float sum would be.
  // Under AVX-512 in 16 double lanes (two chains, masked tail), summed in a fixed order: the
  // same arithmetic for every row whatever the call.
  double ss = 0.0;
  int64_t i = 0;
#if defined(__AVX512F__)
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  for (; i < dim; i += 16) {
    const __m512 v =
        _mm512_maskz_loadu_ps(simd::mask16(int(std::min<int64_t>(16, dim - i))), x + i);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    a0 = _mm512_fmadd_pd(lo, lo, a0);
    a1 = _mm512_fmadd_pd(hi, hi, a1);
  }
  ss = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#endif
  for (; i < dim; ++i) ss += double(x[i]) * double(x[i]);
  const float var = float(ss / double(dim));
  const float r = 1.0f / std::sqrt(var + eps);
  for (i = 0; i < dim; ++i) {
    const float n = x[i] * r;
    y[i] = w[i] * n;
  }
}

}  // namespace

void rmsnorm(const float* x, int64_t n_rows, int64_t dim, const float* w, float eps, float* y) {
  parallel_for(
      n_rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) rmsnorm_row(x + r * dim, dim, w, eps, y + r * dim);
      },
      /*grain=*/dim >= 1024 ? 4 : 64);
}

void rmsnorm_ref(const float* x, int64_t n_rows, int64_t dim, const float* w, float eps, float* y) {
  for (int64_t r = 0; r < n_rows; ++r) {
    double ss = 0.0;
    for (int64_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ss / double(dim) + double(eps));
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = float(double(w[i]) * (x[r * dim + i] * inv));
  }
}

}  // namespace dsvl::kernels
