// The image pipeline: file bytes -> RGB pixels -> the processor's padded square -> the float
// tensors the vision towers read. Every step reproduces the official DeepSeek-VL processor
// (VLMImageProcessor, Pillow 9.4, torch 1.13) bit for bit; ../shared/spec/DEEPSEEK_VL.md §3.2,
// §3.6 and §4 describe each one.
//
// Thread-safety: every function is reentrant (no global state besides the shared thread pool,
// which serialises concurrent parallel_for calls). Errors are thrown as dsvl::IoError (the bytes
// are not a readable image; the message names the file), dsvl::LimitError (too many pixels) or
// dsvl::ConfigError (a PreprocessConfig that cannot work).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dsvl::image {

// 8-bit RGB, interleaved HWC, rows top to bottom, no padding: rgb.size() == width*height*3.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

struct DecodeLimits {
  // Images with more pixels are refused from their header, before any pixel is decoded.
  // Pillow itself refuses past ~179 MP (its decompression-bomb error).
  int64_t max_pixels = 64'000'000;
};

// ---- Decoding (decode.cpp and decode_<format>.cpp) ----------------------------------------
// Formats: PNG, JPEG, WebP (still images), GIF (first frame), BMP (uncompressed and bitfields).
// The result is what `PIL.Image.open(f).convert("RGB")` gives with Pillow 9.4:
//   * alpha is dropped, not composited (transparent pixels keep their stored colour);
//   * gray and gray+alpha replicate the gray value; palette images go through their palette
//     (indices past its end read Pillow's default gray ramp: index i -> (i, i, i));
//   * 16-bit PNG: RGB/RGBA/gray+alpha keep the high byte; plain 16-bit gray is clamped to 255
//     (Pillow opens it as mode "I" and convert("RGB") saturates — a Pillow quirk, reproduced);
//   * JPEG: libjpeg-turbo, ISLOW DCT, fancy upsampling; CMYK/YCCK as Pillow ("CMYK;I" raw
//     mode, then its integer CMYK->RGB); no EXIF rotation anywhere.
// `name` (decode_memory) is only used in error messages, e.g. the upload's file name.
RgbImage decode_file(const std::string& path, const DecodeLimits& limits = {});
RgbImage decode_memory(const uint8_t* data, size_t size, const std::string& name,
                       const DecodeLimits& limits = {});

// ---- Processor (preprocess.cpp, resize_bicubic.cpp) ----------------------------------------
// preprocessor_config.json of VLMImageProcessor (the io/ config parser fills it).
struct PreprocessConfig {
  int image_size = 0;                 // S: 1024 (7B), 384 (1.3B)
  std::array<float, 3> image_mean{};  // the pad colour is int(mean * 255) per channel
  int min_size = 14;
  double rescale_factor = 0.00392156862745098;
};

struct Size2 {
  int width = 0;
  int height = 0;
};

// Size after "resize the longest side to S": max(int(H / max(W, H) * S), min_size) etc.,
// computed in double like the official Python code.
Size2 resized_size(int width, int height, const PreprocessConfig& cfg);
// int(mean[c] * 255): (122, 116, 104) for the CLIP mean, (127, 127, 127) for 0.5.
std::array<uint8_t, 3> background_color(const PreprocessConfig& cfg);

// Pillow 9.4 `Image.resize((w, h), Image.BICUBIC)` on an 8-bit RGB image: separable
// fixed-point filter, horizontal pass first into 8 bits, an unchanged axis is skipped.
// Multithreaded over rows.
RgbImage resize_bicubic(const RgbImage& in, int out_width, int out_height);

// The processor's image as 8 bits: resize (Pillow bicubic), expand2square with the
// background colour, planar CHW [3, S, S] in RGB order.
std::vector<uint8_t> preprocess_u8(const RgbImage& img, const PreprocessConfig& cfg);

// out[i] = float32(float64(u8[i]) * factor), like transformers' rescale.
void rescale(const uint8_t* u8, size_t n, float* out, double factor);

// torchvision Normalize on a CHW [3, S, S] tensor in place: (x - mean[c]) / std[c] in float32.
void normalize(float* chw, int size, std::array<float, 3> mean, std::array<float, 3> std);

// torch F.interpolate(mode="bilinear", align_corners=False, antialias=True) of square planes
// (torch 1.13 CPU kernel, float32, width pass then height pass). `in` holds `channels` planes of
// in_size x in_size, `out` gets `channels` planes of out_size x out_size. Used by the 7B hybrid
// tower to turn the 1024 image into SigLIP's 384 input (spec §3.2, §3.6).
void resize_bilinear_antialias(const float* in, int in_size, float* out, int out_size,
                               int channels);

// ---- Convenience ----------------------------------------------------------------------------
// What the processor returns for one image.
struct PixelInputs {
  std::vector<uint8_t> u8;          // [3, S, S], the padded square
  std::vector<float> pixel_values;  // [3, S, S] in [0, 1]: rescale(u8)
  int size = 0;                     // S
};
PixelInputs make_pixel_inputs(const RgbImage& img, const PreprocessConfig& cfg);

// Tower normalisations (spec §3.2): SAM uses the CLIP statistics, SigLIP 0.5 / 0.5.
inline constexpr std::array<float, 3> kClipMean = {0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kClipStd = {0.26862954f, 0.26130258f, 0.27577711f};
inline constexpr std::array<float, 3> kSiglipMean = {0.5f, 0.5f, 0.5f};
inline constexpr std::array<float, 3> kSiglipStd = {0.5f, 0.5f, 0.5f};

// pixel_values resized to `out_size` with resize_bilinear_antialias (a copy when the sizes are
// equal). For the 7B hybrid tower this is exactly its `low_res_input` before normalisation.
std::vector<float> resized_pixel_values(const PixelInputs& px, int out_size);
// A normalised copy of a CHW [3, size, size] tensor.
std::vector<float> normalized(const std::vector<float>& chw, int size, std::array<float, 3> mean,
                              std::array<float, 3> std);

}  // namespace dsvl::image
