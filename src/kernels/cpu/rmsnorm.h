// RMSNorm as HF LlamaRMSNorm computes it in float32 (spec §5):
//   y = w · (x · rsqrt(mean(x²) + eps))
// The normalised value is rounded to float32 before the weight multiply, as the reference
// casts back to the working dtype first (a no-op for our float32 activations, but it fixes the
// order of the two roundings).
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// x, y: [n_rows, dim] row-major (y may alias x); w: [dim] float32. Multithreaded over rows.
void rmsnorm(const float* x, int64_t n_rows, int64_t dim, const float* w, float eps, float* y);

// Naive scalar reference used by tests.
void rmsnorm_ref(const float* x, int64_t n_rows, int64_t dim, const float* w, float eps, float* y);

}  // namespace dsvl::kernels
