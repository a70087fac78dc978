// VLMImageProcessor (official deepseek_vl/models/image_processing_vlm.py), spec §4:
// resize the long side to S with Pillow bicubic, paste centred on an S x S canvas of the mean
// colour (expand2square), rescale to [0, 1]; plus the tower-side normalisation helpers.
#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/threadpool.h"
#include "image/image.h"

namespace dsvl::image {
namespace {

void check_config(const PreprocessConfig& cfg) {
  if (cfg.image_size < 1 || cfg.min_size < 1 || cfg.min_size > cfg.image_size)
    throw ConfigError("preprocessor_config.json: image_size " + std::to_string(cfg.image_size) +
                      " and min_size " + std::to_string(cfg.min_size) +
                      " must satisfy 1 <= min_size <= image_size");
}

void check_image(const RgbImage& img) {
  if (img.width <= 0 || img.height <= 0 ||
      img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
    throw ShapeError("image " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                     " holds " + std::to_string(img.rgb.size()) +
                     " bytes, expected width*height*3");
}

}  // namespace

Size2 resized_size(int width, int height, const PreprocessConfig& cfg) {
  check_config(cfg);
  // Python: max(int(height / max_size * self.image_size), self.min_size), in double.
  const double m = std::max(width, height);
  Size2 s;
  s.height = std::max(int(double(height) / m * cfg.image_size), cfg.min_size);
  s.width = std::max(int(double(width) / m * cfg.image_size), cfg.min_size);
  return s;
}

std::array<uint8_t, 3> background_color(const PreprocessConfig& cfg) {
  // Python: tuple(int(x * 255) for x in image_mean). The mean arrives here as float; for the
  // released means (CLIP, 0.5) float and double give the same integers.
  std::array<uint8_t, 3> bg{};
  for (int c = 0; c < 3; ++c) {
    const double v = double(cfg.image_mean[size_t(c)]) * 255.0;
    bg[size_t(c)] = uint8_t(std::clamp(int(v), 0, 255));
  }
  return bg;
}

std::vector<uint8_t> preprocess_u8(const RgbImage& img, const PreprocessConfig& cfg) {
  check_image(img);
  const Size2 sz = resized_size(img.width, img.height, cfg);
  const RgbImage resized = resize_bicubic(img, sz.width, sz.height);
  // expand2square: canvas of the long side (== S), pasted at ((S-w)//2, 0) or (0, (S-h)//2).
  const int side = std::max(sz.width, sz.height);
  const int x0 = (side - sz.width) / 2, y0 = (side - sz.height) / 2;
  const std::array<uint8_t, 3> bg = background_color(cfg);
  const size_t plane = size_t(side) * side;
  std::vector<uint8_t> chw(3 * plane);
  for (int c = 0; c < 3; ++c)
    std::fill(chw.begin() + c * plane, chw.begin() + (c + 1) * plane, bg[size_t(c)]);
  parallel_for(
      sz.height,
      [&](int64_t y_begin, int64_t y_end) {
        for (int64_t y = y_begin; y < y_end; ++y) {
          const uint8_t* src = resized.rgb.data() + size_t(y) * sz.width * 3;
          for (int c = 0; c < 3; ++c) {
            uint8_t* dst = chw.data() + c * plane + size_t(y + y0) * side + x0;
            for (int x = 0; x < sz.width; ++x) dst[x] = src[3 * x + c];
          }
        }
      },
      /*grain=*/64);
  return chw;
}

void rescale(const uint8_t* u8, size_t n, float* out, double factor) {
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = float(double(v) * factor);
  parallel_for(
      int64_t(n),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = lut[u8[i]];
      },
      /*grain=*/1 << 16);
}

void normalize(float* chw, int size, std::array<float, 3> mean, std::array<float, 3> std) {
  for (int c = 0; c < 3; ++c)
    if (std[size_t(c)] == 0.0f) throw ConfigError("normalize: std[" + std::to_string(c) + "] is 0");
  const size_t plane = size_t(size) * size;
  parallel_for(
      3 * int64_t(plane),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const size_t c = size_t(i) / plane;
          // Two float32 operations, as tensor.sub_(mean).div_(std).
          chw[i] = (chw[i] - mean[c]) / std[c];
        }
      },
      /*grain=*/1 << 16);
}

PixelInputs make_pixel_inputs(const RgbImage& img, const PreprocessConfig& cfg) {
  PixelInputs px;
  px.u8 = preprocess_u8(img, cfg);
  px.size = cfg.image_size;
  px.pixel_values.resize(px.u8.size());
  rescale(px.u8.data(), px.u8.size(), px.pixel_values.data(), cfg.rescale_factor);
  return px;
}

std::vector<float> resized_pixel_values(const PixelInputs& px, int out_size) {
  if (out_size == px.size) return px.pixel_values;
  std::vector<float> out(size_t(3) * out_size * out_size);
  resize_bilinear_antialias(px.pixel_values.data(), px.size, out.data(), out_size, 3);
  return out;
}

std::vector<float> normalized(const std::vector<float>& chw, int size, std::array<float, 3> mean,
                              std::array<float, 3> std) {
  if (chw.size() != size_t(3) * size * size)
    throw ShapeError("normalized: tensor of " + std::to_string(chw.size()) +
                     " values, expected 3*" + std::to_string(size) + "*" + std::to_string(size));
  std::vector<float> out = chw;
  normalize(out.data(), size, mean, std);
  return out;
}

}  // namespace dsvl::image
