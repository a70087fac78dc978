// Pillow 9.4's BICUBIC resize of 8-bit images (libImaging/Resample.c), which the official
// processor calls through torchvision's resize of a PIL image. Bit-exactness hinges on:
//   * the filter weights computed in double exactly as Pillow writes them (precompute_coeffs),
//     then turned into 22-bit fixed point (normalize_coeffs_8bpc);
//   * the horizontal pass first, its result rounded and clamped to 8 bits, then the vertical
//     pass; a pass whose size does not change is skipped entirely;
//   * acc = 2^21 + sum(pixel * weight) in int32, result clamp(acc >> 22, 0, 255).
//
// Pillow's wheels are built for baseline x86-64 (no FMA). With -march=native the compiler
// would fuse the cubic's multiply-adds, changing the last bit of some weights and so a few
// fixed-point weights, so contraction is turned off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "image/resize_bicubic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "image/image.h"

namespace dsvl::image {
namespace detail {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c PRECISION_BITS

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift, as in Pillow
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

BicubicCoeffs bicubic_coeffs(int in_size, int out_size) {
  // Pillow passes the box edges as floats: scale = (double)(float(in) - 0.f) / out.
  const double scale = double(float(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;  // BICUBIC support 2
  BicubicCoeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.xmin.resize(size_t(out_size));
  c.count.resize(size_t(out_size));
  c.k.assign(size_t(out_size) * size_t(c.ksize), 0);
  std::vector<double> k(size_t(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = int(center - support + 0.5);  // truncation toward zero, as the C cast
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * ss);
      k[size_t(x)] = w;
      ww += w;
    }
    int32_t* out = &c.k[size_t(xx) * size_t(c.ksize)];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? k[size_t(x)] / ww : k[size_t(x)];
      out[x] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits))
                     : int32_t(0.5 + v * (1 << kPrecisionBits));
    }
    c.xmin[size_t(xx)] = xmin;
    c.count[size_t(xx)] = xmax;
  }
  return c;
}

void bicubic_horizontal(const uint8_t* in, int in_w, uint8_t* out, int out_w, int rows,
                        const BicubicCoeffs& c) {
  const size_t in_stride = size_t(in_w) * 3, out_stride = size_t(out_w) * 3;
  parallel_for(
      rows,
      [&](int64_t y0, int64_t y1) {
        for (int64_t y = y0; y < y1; ++y) {
          const uint8_t* src = in + size_t(y) * in_stride;
          uint8_t* dst = out + size_t(y) * out_stride;
          for (int xx = 0; xx < out_w; ++xx) {
            const int32_t* k = &c.k[size_t(xx) * size_t(c.ksize)];
            const uint8_t* p = src + size_t(c.xmin[size_t(xx)]) * 3;
            const int n = c.count[size_t(xx)];
            int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
            for (int j = 0; j < n; ++j) {
              r += p[3 * j] * k[j];
              g += p[3 * j + 1] * k[j];
              b += p[3 * j + 2] * k[j];
            }
            dst[3 * xx] = clip8(r);
            dst[3 * xx + 1] = clip8(g);
            dst[3 * xx + 2] = clip8(b);
          }
        }
      },
      /*grain=*/8);
}

void bicubic_vertical(const uint8_t* in, int width, uint8_t* out, int out_h,
                      const BicubicCoeffs& c) {
  const size_t stride = size_t(width) * 3;
  parallel_for(
      out_h,
      [&](int64_t y0, int64_t y1) {
        // Row-wise accumulation: the inner loop runs along x, so it vectorises.
        std::vector<int32_t> acc(stride);
        for (int64_t yy = y0; yy < y1; ++yy) {
          const int32_t* k = &c.k[size_t(yy) * size_t(c.ksize)];
          const int ymin = c.xmin[size_t(yy)], n = c.count[size_t(yy)];
          std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
          for (int j = 0; j < n; ++j) {
            const uint8_t* row = in + size_t(ymin + j) * stride;
            const int32_t kj = k[j];
            for (size_t x = 0; x < stride; ++x) acc[x] += row[x] * kj;
          }
          uint8_t* dst = out + size_t(yy) * stride;
          for (size_t x = 0; x < stride; ++x) dst[x] = clip8(acc[x]);
        }
      },
      /*grain=*/8);
}

}  // namespace detail

RgbImage resize_bicubic(const RgbImage& in, int out_w, int out_h) {
  if (in.width <= 0 || in.height <= 0 || in.rgb.size() != size_t(in.width) * in.height * 3)
    throw ShapeError("resize_bicubic: image " + std::to_string(in.width) + "x" +
                     std::to_string(in.height) + " with " + std::to_string(in.rgb.size()) +
                     " bytes, expected width*height*3");
  if (out_w <= 0 || out_h <= 0)
    throw ShapeError("resize_bicubic: output size " + std::to_string(out_w) + "x" +
                     std::to_string(out_h) + " must be positive");
  const bool need_h = out_w != in.width, need_v = out_h != in.height;
  if (!need_h && !need_v) return in;  // Pillow returns a copy

  const detail::BicubicCoeffs cv = detail::bicubic_coeffs(in.height, out_h);
  // Only the input rows the vertical pass reads go through the horizontal pass (Pillow's
  // ybox_first/ybox_last); the vertical bounds are shifted to match.
  RgbImage tmp;
  const RgbImage* src = &in;
  int row0 = 0;
  if (need_h) {
    row0 = cv.xmin.front();
    const int row_end = cv.xmin.back() + cv.count.back();
    const detail::BicubicCoeffs ch = detail::bicubic_coeffs(in.width, out_w);
    tmp.width = out_w;
    tmp.height = row_end - row0;
    tmp.rgb.resize(size_t(tmp.width) * tmp.height * 3);
    detail::bicubic_horizontal(in.rgb.data() + size_t(row0) * in.width * 3, in.width,
                               tmp.rgb.data(), out_w, tmp.height, ch);
    if (!need_v) return tmp;
    src = &tmp;
  }
  detail::BicubicCoeffs shifted = cv;
  for (int& m : shifted.xmin) m -= row0;
  RgbImage out;
  out.width = src->width;
  out.height = out_h;
  out.rgb.resize(size_t(out.width) * out_h * 3);
  detail::bicubic_vertical(src->rgb.data(), src->width, out.rgb.data(), out_h, shifted);
  return out;
}

}  // namespace dsvl::image
