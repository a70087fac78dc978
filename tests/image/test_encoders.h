// Test-only image encoders (libpng, libjpeg, libwebp, giflib, a hand-written BMP writer) and
// synthetic pixel data, so the decoder tests, the fuzz seeds and the benchmark build their
// inputs in memory instead of shipping binary files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsvl::test {

// Deterministic pseudo-random bytes (same on every machine).
std::vector<uint8_t> noise_bytes(size_t n, uint32_t seed);

// Smooth gradients plus a little noise: compresses like a photo and exercises every value.
std::vector<uint8_t> photo_like_rgb(int width, int height, uint32_t seed);

// ---- PNG: `samples` holds one value per channel per pixel, row-major (uint16 so 16-bit
// depths fit); palette images hold indices. Values must fit the bit depth.
struct PngSpec {
  int width = 0, height = 0;
  int bit_depth = 8;
  int color_type = 2;  // PNG_COLOR_TYPE_*: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
  bool interlace = false;
  std::vector<uint16_t> samples;
  std::vector<uint8_t> palette;  // RGB triples (color type 3)
  std::vector<uint8_t> trns;     // raw tRNS chunk payload, written if non-empty
};
std::vector<uint8_t> encode_png(const PngSpec& spec);

// ---- JPEG: `components` 1 (gray), 3 (RGB in) or 4 (CMYK, Adobe marker written by libjpeg).
struct JpegSpec {
  int width = 0, height = 0;
  int components = 3;
  std::vector<uint8_t> pixels;  // interleaved, `components` bytes per pixel
  int quality = 90;
  bool progressive = false;
  bool subsample = true;  // 4:2:0 chroma for 3 components (libjpeg's default)
};
std::vector<uint8_t> encode_jpeg(const JpegSpec& spec);

// ---- WebP: lossless keeps every RGB value exactly (also under alpha 0: exact mode on).
std::vector<uint8_t> encode_webp(int width, int height, const std::vector<uint8_t>& pixels,
                                 bool has_alpha, bool lossless);

// ---- GIF: one frame; `indices` is width*height of the frame in top-down order.
struct GifSpec {
  int screen_width = 0, screen_height = 0;
  std::vector<uint8_t> global_palette;  // RGB triples, power-of-two count, or empty
  int left = 0, top = 0, width = 0, height = 0;
  std::vector<uint8_t> local_palette;  // RGB triples, power-of-two count, or empty
  bool interlace = false;
  int transparent = -1;  // written in a graphic control extension when >= 0
  std::vector<uint8_t> indices;
};
std::vector<uint8_t> encode_gif(const GifSpec& spec);

// ---- BMP: rows given top-down; `pixels` is the packed row content without padding for the
// given bit depth (palette indices for <= 8 bits, little-endian 16-bit words, B,G,R(,X) bytes).
struct BmpSpec {
  int width = 0, height = 0;
  int bits = 24;
  int header_size = 40;  // 12, 40, 108 or 124
  bool top_down = false;
  bool bitfields = false;
  uint32_t masks[4] = {0, 0, 0, 0};  // R, G, B, A when bitfields
  std::vector<uint8_t> palette;      // B,G,R,X quads (B,G,R triples for header 12)
  int colors_used = 0;               // biClrUsed
  std::vector<uint8_t> pixels;       // packed rows, top-down, (width*bits+7)/8 bytes each
};
std::vector<uint8_t> encode_bmp(const BmpSpec& spec);

// Writes bytes to a file; returns false on failure.
bool write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace dsvl::test
