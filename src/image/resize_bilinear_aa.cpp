// torch 1.13 F.interpolate(mode="bilinear", align_corners=False, antialias=True) on float32,
// CPU kernel (aten/src/ATen/native/cpu/UpSampleKernel.cpp, HelperInterpBase::
// _compute_weights_aa and the separable generic Nd loop), spec §3.6. The 7B hybrid tower feeds
// SigLIP with this 1024 -> 384 resize of the [0, 1] image.
//
// The weights follow torch's arithmetic types: scale, support, center and the weights are float,
// some intermediate sums are promoted to double by the literal 0.5, the tap argument is rounded
// to float before the triangle filter. The width pass runs first (torch resizes the last
// dimension first), each output = t0*w0 + t1*w1 + ... accumulated in float.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "image/image.h"

namespace dsvl::image {
namespace {

struct AaWeights {
  int ksize = 0;
  std::vector<int64_t> xmin, xsize;
  std::vector<float> w;  // out_size x ksize
};

float triangle(float x) {  // HelperInterpLinear::_filter, scalar_t = float
  if (x < 0.0f) x = -x;
  if (x < 1.0f) return float(1.0 - double(x));
  return 0.0f;
}

AaWeights aa_weights(int64_t in_size, int64_t out_size) {
  // area_pixel_compute_scale: static_cast<float>(input_size) / output_size.
  const float scale = float(in_size) / float(out_size);
  const int interp = 2;  // bilinear
  const float support = scale >= 1.0f ? float((interp * 0.5) * double(scale)) : float(interp * 0.5);
  AaWeights a;
  a.ksize = int(std::ceil(support)) * 2 + 1;
  a.xmin.resize(size_t(out_size));
  a.xsize.resize(size_t(out_size));
  a.w.assign(size_t(out_size) * size_t(a.ksize), 0.0f);
  const float invscale = scale >= 1.0f ? float(1.0 / double(scale)) : 1.0f;
  for (int64_t i = 0; i < out_size; ++i) {
    const float center = float(double(scale) * (double(i) + 0.5));
    const int64_t xmin = std::max(int64_t(double(center - support) + 0.5), int64_t(0));
    const int64_t xsize = std::min(int64_t(double(center + support) + 0.5), in_size) - xmin;
    float* w = &a.w[size_t(i) * size_t(a.ksize)];
    float total = 0.0f;
    for (int64_t j = 0; j < xsize; ++j) {
      // (j + xmin - center + 0.5) * invscale: int64 - float is float, + 0.5 is double.
      const float arg = float((double(float(j + xmin) - center) + 0.5) * double(invscale));
      w[j] = triangle(arg);
      total += w[j];
    }
    if (total != 0.0f)
      for (int64_t j = 0; j < xsize; ++j) w[j] /= total;
    a.xmin[size_t(i)] = xmin;
    a.xsize[size_t(i)] = xsize;
  }
  return a;
}

}  // namespace

void resize_bilinear_antialias(const float* in, int in_size, float* out, int out_size,
                               int channels) {
  if (in_size <= 0 || out_size <= 0 || channels <= 0)
    throw ShapeError("resize_bilinear_antialias: sizes " + std::to_string(in_size) + " -> " +
                     std::to_string(out_size) + " with " + std::to_string(channels) +
                     " channels must be positive");
  const AaWeights a = aa_weights(in_size, out_size);
  // Width pass: [C, in, in] -> [C, in, out].
  std::vector<float> tmp(size_t(channels) * in_size * out_size);
  parallel_for(
      int64_t(channels) * in_size,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* src = in + size_t(r) * in_size;
          float* dst = tmp.data() + size_t(r) * out_size;
          for (int o = 0; o < out_size; ++o) {
            const float* w = &a.w[size_t(o) * size_t(a.ksize)];
            const float* p = src + a.xmin[size_t(o)];
            float acc = p[0] * w[0];
            for (int64_t j = 1; j < a.xsize[size_t(o)]; ++j) acc += p[j] * w[j];
            dst[o] = acc;
          }
        }
      },
      /*grain=*/64);
  // Height pass: [C, in, out] -> [C, out, out], a whole output row at a time.
  parallel_for(
      int64_t(channels) * out_size,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t c = r / out_size, o = r % out_size;
          const float* w = &a.w[size_t(o) * size_t(a.ksize)];
          const float* plane = tmp.data() + size_t(c) * in_size * out_size;
          const float* row0 = plane + size_t(a.xmin[size_t(o)]) * out_size;
          float* dst = out + size_t(c) * out_size * out_size + size_t(o) * out_size;
          for (int x = 0; x < out_size; ++x) dst[x] = row0[x] * w[0];
          for (int64_t j = 1; j < a.xsize[size_t(o)]; ++j) {
            const float* row = row0 + size_t(j) * out_size;
            const float wj = w[j];
            for (int x = 0; x < out_size; ++x) dst[x] += row[x] * wj;
          }
        }
      },
      /*grain=*/16);
}

}  // namespace dsvl::image
