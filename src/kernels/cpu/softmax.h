// Softmax along a row, in float32 like torch.softmax on float tensors:
// y_j = exp(x_j − max x) / Σ_k exp(x_k − max x).
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// One row of n floats, in place, on the calling thread (used inside attention tasks).
void softmax_row(float* x, int64_t n);

// The three passes of softmax_row, for callers that see a row in pieces (attention's online
// softmax over key chunks): the maximum (−inf for n = 0); x_j = exp(x_j − m) in place,
// returning Σ x_j; x_j *= s.
float softmax_max(const float* x, int64_t n);
double softmax_exp(float* x, int64_t n, float m);
void softmax_scale(float* x, int64_t n, float s);

// M rows of n floats, row stride ld, in place. Multithreaded over rows.
void softmax_rows(float* x, int64_t M, int64_t n, int64_t ld);

// Naive reference: double-precision std::exp.
void softmax_rows_ref(float* x, int64_t M, int64_t n, int64_t ld);

}  // namespace dsvl::kernels
