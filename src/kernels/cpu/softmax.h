// Softmax along a row, in float32 like torch.softmax on float tensors:
// y_j = exp(x_j − max x) / Σ_k exp(x_k − max x).
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// One row of n floats, in place, on the calling thread (used inside attention tasks).
void softmax_row(float* x, int64_t n);

// M rows of n floats, row stride ld, in place. Multithreaded over rows.
void softmax_rows(float* x, int64_t M, int64_t n, int64_t ld);

// Naive reference: double-precision std::exp.
void softmax_rows_ref(float* x, int64_t M, int64_t n, int64_t ld);

}  // namespace dsvl::kernels
