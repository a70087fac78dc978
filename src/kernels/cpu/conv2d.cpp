#include "kernels/cpu/conv2d.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/cpu/matmul.h"

namespace dsvl::kernels {
namespace {

bool is_pointwise(const Conv2dShape& s) { return s.kernel == 1 && s.stride == 1 && s.pad == 0; }

void check(const Conv2dShape& s, const TensorView& w, const TensorView* b) {
  const Shape want{s.Cout, s.Cin, s.kernel, s.kernel};
  if (w.shape != want)
    throw ShapeError("conv2d: weight shape " + shape_str(w.shape) + ", expected " +
                     shape_str(want));
  if (b && b->data && b->shape != Shape{s.Cout})
    throw ShapeError("conv2d: bias shape " + shape_str(b->shape) + ", expected [" +
                     std::to_string(s.Cout) + "]");
  if (s.OH() < 1 || s.OW() < 1) throw ShapeError("conv2d: empty output");
}

// Row (oy, ox) of the im2col matrix: element cin·k² + ky·k + kx is x[oy·st + ky − pad,
// ox·st + kx − pad, cin], or 0 outside the map.
void im2col_row(const float* x, const Conv2dShape& s, int64_t oy, int64_t ox, float* row) {
  const int64_t k = s.kernel, kk = k * k;
  for (int64_t ky = 0; ky < k; ++ky) {
    const int64_t iy = oy * s.stride + ky - s.pad;
    for (int64_t kx = 0; kx < k; ++kx) {
      const int64_t ix = ox * s.stride + kx - s.pad;
      float* dst = row + ky * k + kx;
      if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) {
        for (int64_t c = 0; c < s.Cin; ++c) dst[c * kk] = 0.0f;
      } else {
        const float* src = x + (iy * s.W + ix) * s.Cin;
        for (int64_t c = 0; c < s.Cin; ++c) dst[c * kk] = src[c];
      }
    }
  }
}

}  // namespace

int64_t conv2d_scratch_floats(const Conv2dShape& s) {
  return is_pointwise(s) ? 0 : s.OH() * s.OW() * s.Cin * s.kernel * s.kernel;
}

void conv2d_nhwc(const float* x, const Conv2dShape& s, const TensorView& w, const TensorView* b,
                 float* y, float* scratch, Precision p) {
  check(s, w, b);
  const int64_t K = s.Cin * s.kernel * s.kernel, M = s.OH() * s.OW();
  const TensorView w2{w.dtype, {s.Cout, K}, w.data};
  if (is_pointwise(s)) {
    linear(x, M, w2, b, y, p);
    return;
  }
  const int64_t OW = s.OW();
  parallel_for(
      M,
      [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) im2col_row(x, s, m / OW, m % OW, scratch + m * K);
      },
      16);
  linear(scratch, M, w2, b, y, p);
}

void conv2d_nhwc_ref(const float* x, const Conv2dShape& s, const TensorView& w, const TensorView* b,
                     float* y) {
  check(s, w, b);
  const int64_t k = s.kernel;
  for (int64_t oy = 0; oy < s.OH(); ++oy)
    for (int64_t ox = 0; ox < s.OW(); ++ox)
      for (int64_t co = 0; co < s.Cout; ++co) {
        double acc = (b && b->data) ? load_float(*b, co) : 0.0;
        for (int64_t ci = 0; ci < s.Cin; ++ci)
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t iy = oy * s.stride + ky - s.pad, ix = ox * s.stride + kx - s.pad;
              if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
              acc += double(x[(iy * s.W + ix) * s.Cin + ci]) *
                     load_float(w, ((co * s.Cin + ci) * k + ky) * k + kx);
            }
        y[(oy * s.OW() + ox) * s.Cout + co] = float(acc);
      }
}

void im2col_patches_nchw(const float* x, int64_t C, int64_t H, int64_t W, int64_t p, float* cols) {
  const int64_t gh = H / p, gw = W / p, K = C * p * p;
  parallel_for(gh * gw, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t py = t / gw, px = t % gw;
      float* row = cols + t * K;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ky = 0; ky < p; ++ky)
          std::memcpy(row + (c * p + ky) * p, x + (c * H + py * p + ky) * W + px * p,
                      size_t(p) * sizeof(float));
    }
  });
}

}  // namespace dsvl::kernels
