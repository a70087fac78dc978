// Convolutions as im2col + GEMM. Feature maps are NHWC (channels contiguous), weights are the
// checkpoint's [Cout, Cin, k, k] tensors used as stored (F32/F16/BF16): the im2col rows are
// laid out in (cin, ky, kx) order so the weight is simply viewed as [Cout, Cin·k·k] and fed to
// kernels::linear — no weight copy or repacking. Cross-correlation with zero padding, as
// PyTorch's Conv2d.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/cpu/matmul.h"

namespace dsvl::kernels {

struct Conv2dShape {
  int64_t H = 0, W = 0, Cin = 0, Cout = 0;
  int64_t kernel = 1, stride = 1, pad = 0;

  int64_t OH() const { return (H + 2 * pad - kernel) / stride + 1; }
  int64_t OW() const { return (W + 2 * pad - kernel) / stride + 1; }
};

// Floats of scratch conv2d_nhwc needs (0 for a 1×1, stride-1, unpadded conv).
int64_t conv2d_scratch_floats(const Conv2dShape& s);

// x: [H, W, Cin]; y: [OH, OW, Cout]; w: [Cout, Cin, k, k]; b: [Cout] or nullptr.
// Throws ShapeError if w or b does not match s. Multithreaded (im2col and GEMM). `p` is the
// GEMM precision (kernels::linear).
void conv2d_nhwc(const float* x, const Conv2dShape& s, const TensorView& w, const TensorView* b,
                 float* y, float* scratch, Precision p = Precision::kF32);

// Naive reference: direct 7-loop convolution with double accumulation.
void conv2d_nhwc_ref(const float* x, const Conv2dShape& s, const TensorView& w, const TensorView* b,
                     float* y);

// Patch embedding input: the non-overlapping p×p patches of an NCHW image x [C, H, W] as rows
// [(H/p)·(W/p), C·p·p] in (c, ky, kx) order, patches in row-major order.
void im2col_patches_nchw(const float* x, int64_t C, int64_t H, int64_t W, int64_t p, float* cols);

}  // namespace dsvl::kernels
