#include "kernels/cpu/resize.h"

#include <algorithm>
#include <vector>

#include "core/threadpool.h"

namespace dsvl::kernels {
namespace {

// Source taps of one output index, computed like torch's float32 CPU kernel
// (area_pixel_compute_source_index): scale = in/out in float, src = scale·(i + 0.5) − 0.5
// clamped at 0, i0 = ⌊src⌋, i1 = i0 + 1 unless at the last row/column, λ1 = src − i0.
struct Tap {
  int64_t i0, i1;
  float l0, l1;
};

// Real = float reproduces torch's float32 coordinates (the 64→96 scale 2/3 is not exact in
// float: using double would move the weights by up to 3e-6).
template <typename Real>
Tap tap(int64_t i, int64_t in, int64_t out) {
  const Real scale = Real(in) / Real(out);
  Real src = scale * (Real(i) + Real(0.5)) - Real(0.5);
  if (src < 0) src = 0;
  Tap t;
  t.i0 = std::min<int64_t>(int64_t(src), in - 1);
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.l1 = float(src - Real(t.i0));
  t.l0 = float(Real(1) - (src - Real(t.i0)));
  return t;
}

}  // namespace

void resize_bilinear_nhwc(const float* x, int64_t H, int64_t W, int64_t C, float* y, int64_t OH,
                          int64_t OW) {
  std::vector<Tap> tx(static_cast<size_t>(OW)), ty(static_cast<size_t>(OH));
  for (int64_t i = 0; i < OW; ++i) tx[size_t(i)] = tap<float>(i, W, OW);
  for (int64_t i = 0; i < OH; ++i) ty[size_t(i)] = tap<float>(i, H, OH);
  parallel_for(OH, [&](int64_t r0, int64_t r1) {
    for (int64_t oy = r0; oy < r1; ++oy) {
      const Tap& v = ty[size_t(oy)];
      for (int64_t ox = 0; ox < OW; ++ox) {
        const Tap& h = tx[size_t(ox)];
        const float* p00 = x + (v.i0 * W + h.i0) * C;
        const float* p01 = x + (v.i0 * W + h.i1) * C;
        const float* p10 = x + (v.i1 * W + h.i0) * C;
        const float* p11 = x + (v.i1 * W + h.i1) * C;
        float* dst = y + (oy * OW + ox) * C;
        for (int64_t c = 0; c < C; ++c)
          dst[c] = v.l0 * (h.l0 * p00[c] + h.l1 * p01[c]) + v.l1 * (h.l0 * p10[c] + h.l1 * p11[c]);
      }
    }
  });
}

void resize_bilinear_nhwc_ref(const float* x, int64_t H, int64_t W, int64_t C, float* y, int64_t OH,
                              int64_t OW) {
  for (int64_t oy = 0; oy < OH; ++oy) {
    const Tap v = tap<float>(oy, H, OH);
    for (int64_t ox = 0; ox < OW; ++ox) {
      const Tap h = tap<float>(ox, W, OW);
      for (int64_t c = 0; c < C; ++c) {
        auto at = [&](int64_t iy, int64_t ix) { return double(x[(iy * W + ix) * C + c]); };
        const double top = double(h.l0) * at(v.i0, h.i0) + double(h.l1) * at(v.i0, h.i1);
        const double bot = double(h.l0) * at(v.i1, h.i0) + double(h.l1) * at(v.i1, h.i1);
        y[(oy * OW + ox) * C + c] = float(double(v.l0) * top + double(v.l1) * bot);
      }
    }
  }
}

}  // namespace dsvl::kernels
