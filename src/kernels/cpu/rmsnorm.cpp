#include "kernels/cpu/rmsnorm.h"

#include <cmath>

#include "core/threadpool.h"

namespace dsvl::kernels {
namespace {

void rmsnorm_row(const float* x, int64_t dim, const float* w, float eps, float* y) {
  // The mean of squares is accumulated in double: torch's float32 reduction is a pairwise sum,
  // which is much closer to the exact value than a running float sum would be.
  double ss = 0.0;
  for (int64_t i = 0; i < dim; ++i) ss += double(x[i]) * double(x[i]);
  const float var = float(ss / double(dim));
  const float r = 1.0f / std::sqrt(var + eps);
  for (int64_t i = 0; i < dim; ++i) {
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
