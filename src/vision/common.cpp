#include "vision/common.h"

#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/matmul.h"

namespace dsvl::vision {

void normalize_image(const float* x, int64_t S, const std::array<float, 3>& mean,
                     const std::array<float, 3>& std, float* y) {
  parallel_for(3 * S, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int c = int(r / S);
      const float m = mean[size_t(c)], s = std[size_t(c)];
      const float* src = x + r * S;
      float* dst = y + r * S;
      // Subtract then divide (not multiply by 1/std) to match torchvision bit for bit.
      for (int64_t i = 0; i < S; ++i) dst[i] = (src[i] - m) / s;
    }
  });
}

void patch_embed_forward(const float* image, int64_t S, int64_t p, const TensorView& weight,
                         const TensorView& bias, float* cols, float* out, kernels::Precision prec) {
  const int64_t C = weight.shape[0], K = 3 * p * p;
  kernels::im2col_patches_nchw(image, 3, S, S, p, cols);
  const TensorView w2{weight.dtype, {C, K}, weight.data};
  kernels::linear(cols, (S / p) * (S / p), w2, &bias, out, prec);
}

void add_inplace(float* y, const float* x, int64_t n) {
  parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] += x[i];
      },
      1 << 14);
}

void add_view_inplace(float* y, const TensorView& v) {
  if (v.dtype == DType::kF32) {
    add_inplace(y, static_cast<const float*>(v.data), v.numel());
    return;
  }
  parallel_for(
      v.numel(),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] += load_float(v, i);
      },
      1 << 14);
}

void capture(DebugTaps* taps, const std::string& name, const Shape& shape, const float* data) {
  if (!taps) return;
  Tensor t(shape);
  std::memcpy(t.ptr(), data, size_t(t.numel()) * sizeof(float));
  taps->tensors[name] = std::move(t);
}

void capture_nchw(DebugTaps* taps, const std::string& name, const float* nhwc, int64_t H, int64_t W,
                  int64_t C) {
  if (!taps) return;
  Tensor t({1, C, H, W});
  transpose(nhwc, H * W, C, t.ptr());
  taps->tensors[name] = std::move(t);
}

void transpose(const float* x, int64_t rows, int64_t cols, float* y) {
  parallel_for(cols, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = 0; r < rows; ++r) y[c * rows + r] = x[r * cols + c];
  });
}

}  // namespace dsvl::vision
