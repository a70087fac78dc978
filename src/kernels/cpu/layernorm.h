// LayerNorm over the last (contiguous) axis: y = (x − mean)/sqrt(var + eps)·w + b with the
// biased variance. LayerNorm2d of an NCHW map normalises over channels at each pixel, which is
// this same operation on the NHWC layout the vision code keeps its maps in.
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// x, y: [M, C] row-major (y may equal x); w, b: [C] float32. Multithreaded over rows.
void layernorm(const float* x, int64_t M, int64_t C, const float* w, const float* b, float eps,
               float* y);

// Naive reference: double accumulation, two passes.
void layernorm_ref(const float* x, int64_t M, int64_t C, const float* w, const float* b, float eps,
                   float* y);

}  // namespace dsvl::kernels
