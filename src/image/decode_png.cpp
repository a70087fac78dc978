// PNG through libpng, converted to RGB the way Pillow 9.4 opens each PNG mode
// (PngImagePlugin._MODES) and then converts it with convert("RGB").
//
// libpng asks for raw samples only (plus unpacking of sub-byte depths and de-interlacing); every
// conversion is done here, because Pillow's differ from libpng's own transforms: 16-bit samples
// keep their high byte, 16-bit gray becomes mode "I" and is clamped to 255 (Convert.c i2rgb),
// palette indices past the PLTE read the default gray ramp, and tRNS is ignored.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "image/decode_internal.h"

namespace dsvl::image::detail {
namespace {

// Everything libpng's callbacks touch. Plain data: a longjmp may leave frames that refer to it.
struct PngState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  bool truncated = false;
  char message[256] = "";
};

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  int num_palette = 0;
  png_colorp palette = nullptr;
  size_t rowbytes = 0;  // after unpacking sub-byte samples
};

void read_cb(png_structp png, png_bytep out, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (s->size - s->pos < n) {
    s->truncated = true;
    png_error(png, "unexpected end of file");
  }
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

void error_cb(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", msg ? msg : "unknown error");
  png_longjmp(png, 1);
}

void warning_cb(png_structp, png_const_charp) {}  // Pillow does not fail on what libpng warns about

// C-style steps: only trivially destructible locals between setjmp and any longjmp.
bool read_header(PngState* s, PngHeader* h) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_read_fn(s->png, s, read_cb);
  // Our own pixel limit applies instead of libpng's default 1e6 x 1e6.
  png_set_user_limits(s->png, 0x7fffffff, 0x7fffffff);
  png_set_check_for_invalid_index(s->png, 0);  // out-of-range indices are handled below
  png_read_info(s->png, s->info);
  png_get_IHDR(s->png, s->info, &h->width, &h->height, &h->bit_depth, &h->color_type, &h->interlace,
               nullptr, nullptr);
  if (h->color_type == PNG_COLOR_TYPE_PALETTE)
    png_get_PLTE(s->png, s->info, &h->palette, &h->num_palette);
  return true;
}

bool start_rows(PngState* s, PngHeader* h) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  if (h->bit_depth < 8) png_set_packing(s->png);  // one byte per sample, values not scaled
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  h->rowbytes = png_get_rowbytes(s->png, s->info);
  return true;
}

bool read_rows(PngState* s, png_bytepp rows, png_uint_32 n) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_rows(s->png, rows, nullptr, n);
  return true;
}

bool read_image(PngState* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_image(s->png, rows);
  return true;
}

// One decoded row of raw samples -> RGB, per Pillow's unpacker for the mode.
void convert_row(const PngHeader& h, const Palette& pal, const uint8_t* in, uint8_t* out) {
  const int w = int(h.width);
  const bool wide = h.bit_depth == 16;
  switch (h.color_type) {
    case PNG_COLOR_TYPE_GRAY: {
      if (wide) {  // mode "I", then i2rgb clamps to [0, 255]
        for (int x = 0; x < w; ++x) {
          const int v = (in[2 * x] << 8) | in[2 * x + 1];
          out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = uint8_t(v > 255 ? 255 : v);
        }
        return;
      }
      // 1/2/4-bit gray is scaled by 255/(2^d - 1) (modes "1", "L;2", "L;4").
      const int scale = h.bit_depth == 1   ? 255
                        : h.bit_depth == 2 ? 0x55
                        : h.bit_depth == 4 ? 0x11
                                           : 1;
      for (int x = 0; x < w; ++x)
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = uint8_t(in[x] * scale);
      return;
    }
    case PNG_COLOR_TYPE_GRAY_ALPHA: {  // "LA", or "LA;16B" -> RGBA: high byte of gray
      const int step = wide ? 4 : 2;
      for (int x = 0; x < w; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[step * x];
      return;
    }
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: {  // alpha dropped; 16-bit keeps the high byte
      const int ch = h.color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
      const int bytes = wide ? 2 : 1;
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) out[3 * x + c] = in[(x * ch + c) * bytes];
      return;
    }
    case PNG_COLOR_TYPE_PALETTE:
      for (int x = 0; x < w; ++x) std::memcpy(out + 3 * x, pal.at(in[x]), 3);
      return;
  }
}

struct PngGuard {
  PngState* s;
  ~PngGuard() { png_destroy_read_struct(&s->png, s->info ? &s->info : nullptr, nullptr); }
};

}  // namespace

RgbImage decode_png(const Source& src) {
  // IHDR must come first (signature, length, "IHDR", width, height): refuse oversized images
  // from it even when the file stops right after it, before libpng reads any further.
  if (src.size >= 24 && std::memcmp(src.data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) {
      return uint32_t(src.data[at]) << 24 | uint32_t(src.data[at + 1]) << 16 |
             uint32_t(src.data[at + 2]) << 8 | uint32_t(src.data[at + 3]);
    };
    const uint32_t w = be32(16), h = be32(20);
    if (w > 0 && h > 0 && w <= 0x7fffffffu && h <= 0x7fffffffu)  // else libpng says "invalid"
      check_dimensions(src, "PNG", w, h);
  }
  PngState s;
  s.data = src.data;
  s.size = src.size;
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, error_cb, warning_cb);
  if (!s.png) fail(src, "PNG: out of memory");
  PngGuard guard{&s};
  s.info = png_create_info_struct(s.png);
  if (!s.info) fail(src, "PNG: out of memory");

  auto fail_png = [&]() {
    if (s.truncated) fail(src, "truncated PNG (the file ends before the image data is complete)");
    fail(src, std::string("corrupt PNG: ") + s.message);
  };
  PngHeader h;
  if (!read_header(&s, &h)) fail_png();
  check_dimensions(src, "PNG", h.width, h.height);
  if (!start_rows(&s, &h)) fail_png();
  const Palette pal(reinterpret_cast<const uint8_t*>(h.palette), h.num_palette);

  RgbImage img = new_image(int(h.width), int(h.height));
  const size_t out_stride = size_t(h.width) * 3;
  if (h.interlace != PNG_INTERLACE_NONE) {
    // Adam7 needs the whole image before any row is final.
    std::vector<uint8_t> raw(h.rowbytes * h.height);
    std::vector<png_bytep> rows(h.height);
    for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = raw.data() + y * h.rowbytes;
    if (!read_image(&s, rows.data())) fail_png();
    for (png_uint_32 y = 0; y < h.height; ++y)
      convert_row(h, pal, rows[y], img.rgb.data() + y * out_stride);
    return img;
  }
  // Non-interlaced: a few rows at a time, so 16-bit RGBA never needs 8 bytes per pixel.
  constexpr png_uint_32 kChunk = 16;
  std::vector<uint8_t> raw(h.rowbytes * kChunk);
  png_bytep rows[kChunk];
  for (png_uint_32 y0 = 0; y0 < h.height; y0 += kChunk) {
    const png_uint_32 n = h.height - y0 < kChunk ? h.height - y0 : kChunk;
    for (png_uint_32 i = 0; i < n; ++i) rows[i] = raw.data() + i * h.rowbytes;
    if (!read_rows(&s, rows, n)) fail_png();
    for (png_uint_32 i = 0; i < n; ++i)
      convert_row(h, pal, rows[i], img.rgb.data() + (y0 + i) * out_stride);
  }
  return img;
}

}  // namespace dsvl::image::detail
