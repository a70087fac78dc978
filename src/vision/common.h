// Small pieces shared by the SAM and SigLIP towers: input normalisation, the patch embedding,
// residual adds, and debug-tap capture.
#pragma once

#include <array>
#include <string>

#include "core/tensor.h"
#include "kernels/cpu/matmul.h"
#include "vision/vision.h"

namespace dsvl::vision {

// torchvision Normalize in float32: y[c] = (x[c] − mean[c]) / std[c] on a [3, S, S] image.
void normalize_image(const float* x, int64_t S, const std::array<float, 3>& mean,
                     const std::array<float, 3>& std, float* y);

// Patch embedding = conv p×p stride p + bias on a normalised [3, S, S] image, as im2col + GEMM:
// out [(S/p)², C] in row-major patch order (= the NHWC map, or the flattened token sequence).
// cols: (S/p)²·3·p² floats of scratch. weight [C, 3, p, p], bias [C] as stored; `prec` is the
// GEMM precision.
void patch_embed_forward(const float* image, int64_t S, int64_t p, const TensorView& weight,
                         const TensorView& bias, float* cols, float* out, kernels::Precision prec);

// y[i] += x[i].
void add_inplace(float* y, const float* x, int64_t n);
// y[i] += v[i] for a float checkpoint tensor of any float dtype (position embeddings).
void add_view_inplace(float* y, const TensorView& v);

// Copies `data` (numel(shape) floats) into taps->tensors[name] when taps is non-null.
void capture(DebugTaps* taps, const std::string& name, const Shape& shape, const float* data);
// Same for an NHWC map [H, W, C] stored as NCHW [1, C, H, W].
void capture_nchw(DebugTaps* taps, const std::string& name, const float* nhwc, int64_t H, int64_t W,
                  int64_t C);

// y = xᵀ: x [rows, cols] → y [cols, rows]. NHWC [H·W, C] → NCHW [C, H·W] and back.
void transpose(const float* x, int64_t rows, int64_t cols, float* y);

}  // namespace dsvl::vision
