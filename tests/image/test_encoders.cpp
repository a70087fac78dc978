#include "image/test_encoders.h"

#include <gif_lib.h>
#include <png.h>
#include <webp/encode.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

namespace dsvl::test {

std::vector<uint8_t> noise_bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t s = seed * 2654435761u + 12345u;
  for (auto& b : v) {
    s ^= s << 13, s ^= s >> 17, s ^= s << 5;  // xorshift32
    b = uint8_t(s >> 24);
  }
  return v;
}

std::vector<uint8_t> photo_like_rgb(int width, int height, uint32_t seed) {
  std::vector<uint8_t> v(size_t(width) * height * 3);
  const std::vector<uint8_t> n = noise_bytes(v.size(), seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = (size_t(y) * width + x) * 3 + c;
        const double t = 127.5 + 100.0 * std::sin(0.013 * x * (c + 1) + 0.021 * y + c);
        v[i] = uint8_t(std::clamp(t + (n[i] % 33) - 16.0, 0.0, 255.0));
      }
  return v;
}

// ---- PNG ---------------------------------------------------------------------------------

namespace {

void png_write_cb(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_flush_cb(png_structp) {}

int png_channels(int color_type) {
  switch (color_type) {
    case 0:
    case 3:
      return 1;
    case 4:
      return 2;
    case 2:
      return 3;
    default:
      return 4;
  }
}

// C-style: the only objects alive across setjmp are plain pointers.
bool png_write_all(png_structp png, png_infop info, const PngSpec* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, png_uint_32(s->width), png_uint_32(s->height), s->bit_depth,
               s->color_type, s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (s->color_type == 3) {
    png_color pal[256];
    const int n = int(s->palette.size() / 3);
    for (int i = 0; i < n; ++i)
      pal[i] = {s->palette[3 * i], s->palette[3 * i + 1], s->palette[3 * i + 2]};
    png_set_PLTE(png, info, pal, n);
  }
  if (!s->trns.empty()) {
    if (s->color_type == 3) {
      png_set_tRNS(png, info, s->trns.data(), int(s->trns.size()), nullptr);
    } else {
      png_color_16 c{};
      auto word = [&](size_t i) { return png_uint_16(s->trns[i] << 8 | s->trns[i + 1]); };
      if (s->color_type == 0) c.gray = word(0);
      if (s->color_type == 2) c.red = word(0), c.green = word(2), c.blue = word(4);
      png_set_tRNS(png, info, nullptr, 0, &c);
    }
  }
  png_write_info(png, info);
  if (s->bit_depth < 8) png_set_packing(png);
  png_write_image(png, rows);
  png_write_end(png, info);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_png(const PngSpec& s) {
  const int ch = png_channels(s.color_type);
  const int bytes = s.bit_depth == 16 ? 2 : 1;
  const size_t row_bytes = size_t(s.width) * ch * bytes;
  std::vector<uint8_t> raw(row_bytes * s.height);
  for (size_t i = 0; i < size_t(s.width) * s.height * ch; ++i) {
    if (bytes == 2) {
      raw[2 * i] = uint8_t(s.samples[i] >> 8);
      raw[2 * i + 1] = uint8_t(s.samples[i]);
    } else {
      raw[i] = uint8_t(s.samples[i]);
    }
  }
  std::vector<png_bytep> rows(size_t(s.height));
  for (int y = 0; y < s.height; ++y) rows[size_t(y)] = raw.data() + y * row_bytes;
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, png_write_cb, png_flush_cb);
  png_set_check_for_invalid_index(png, 0);  // tests write indices past a short PLTE
  const bool ok = png_write_all(png, info, &s, rows.data());
  png_destroy_write_struct(&png, &info);
  if (!ok) throw std::runtime_error("encode_png failed");
  return out;
}

// ---- JPEG --------------------------------------------------------------------------------

std::vector<uint8_t> encode_jpeg(const JpegSpec& s) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);  // test inputs are valid; libjpeg's default exit is fine here
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = JDIMENSION(s.width);
  c.image_height = JDIMENSION(s.height);
  c.input_components = s.components;
  c.in_color_space = s.components == 1 ? JCS_GRAYSCALE : s.components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, s.quality, TRUE);
  if (s.components == 3 && !s.subsample)
    for (int i = 0; i < 3; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  if (s.progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  const size_t stride = size_t(s.width) * s.components;
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(s.pixels.data()) + c.next_scanline * stride;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

// ---- WebP --------------------------------------------------------------------------------

std::vector<uint8_t> encode_webp(int width, int height, const std::vector<uint8_t>& pixels,
                                 bool has_alpha, bool lossless) {
  WebPConfig config;
  WebPPicture pic;
  if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) throw std::runtime_error("webp init");
  config.lossless = lossless ? 1 : 0;
  config.exact = 1;  // keep RGB under alpha 0, so "alpha dropped" is observable
  config.quality = lossless ? 50.f : 90.f;
  pic.use_argb = lossless ? 1 : 0;
  pic.width = width;
  pic.height = height;
  const int ok = has_alpha ? WebPPictureImportRGBA(&pic, pixels.data(), width * 4)
                           : WebPPictureImportRGB(&pic, pixels.data(), width * 3);
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  pic.writer = WebPMemoryWrite;
  pic.custom_ptr = &writer;
  const bool encoded = ok && WebPEncode(&config, &pic);
  WebPPictureFree(&pic);
  std::vector<uint8_t> out(writer.mem, writer.mem + writer.size);
  WebPMemoryWriterClear(&writer);
  if (!encoded) throw std::runtime_error("encode_webp failed");
  return out;
}

// ---- GIF ---------------------------------------------------------------------------------

namespace {

int gif_write_cb(GifFileType* gif, const GifByteType* data, int n) {
  auto* out = static_cast<std::vector<uint8_t>*>(gif->UserData);
  out->insert(out->end(), data, data + n);
  return n;
}

ColorMapObject* make_map(const std::vector<uint8_t>& rgb) {
  if (rgb.empty()) return nullptr;
  const int n = int(rgb.size() / 3);
  std::vector<GifColorType> colors(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) colors[size_t(i)] = {rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]};
  return GifMakeMapObject(n, colors.data());
}

}  // namespace

std::vector<uint8_t> encode_gif(const GifSpec& s) {
  std::vector<uint8_t> out;
  int err = 0;
  GifFileType* gif = EGifOpen(&out, gif_write_cb, &err);
  if (!gif) throw std::runtime_error("EGifOpen failed");
  EGifSetGifVersion(gif, true);
  ColorMapObject* global = make_map(s.global_palette);
  ColorMapObject* local = make_map(s.local_palette);
  bool ok = EGifPutScreenDesc(gif, s.screen_width, s.screen_height, 8, 0, global) == GIF_OK;
  if (ok && s.transparent >= 0) {
    const uint8_t gce[4] = {1, 0, 0, uint8_t(s.transparent)};
    ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, gce) == GIF_OK;
  }
  ok = ok && EGifPutImageDesc(gif, s.left, s.top, s.width, s.height, s.interlace, local) == GIF_OK;
  // Interlaced frames are written in pass order.
  std::vector<int> order;
  const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
  for (int p = 0; p < (s.interlace ? 4 : 1); ++p)
    for (int y = s.interlace ? start[p] : 0; y < s.height; y += s.interlace ? step[p] : 1)
      order.push_back(y);
  std::vector<GifPixelType> line(size_t(s.width));
  for (int y : order) {
    std::memcpy(line.data(), s.indices.data() + size_t(y) * s.width, line.size());
    ok = ok && EGifPutLine(gif, line.data(), s.width) == GIF_OK;
  }
  EGifCloseFile(gif, &err);
  GifFreeMapObject(global);
  GifFreeMapObject(local);
  if (!ok) throw std::runtime_error("encode_gif failed");
  return out;
}

// ---- BMP ---------------------------------------------------------------------------------

std::vector<uint8_t> encode_bmp(const BmpSpec& s) {
  std::vector<uint8_t> out;
  auto u16 = [&](uint32_t v) { out.push_back(uint8_t(v)), out.push_back(uint8_t(v >> 8)); };
  auto u32 = [&](uint32_t v) { u16(v & 0xFFFF), u16(v >> 16); };
  const size_t in_row = (size_t(s.width) * s.bits + 7) / 8;
  const size_t stride = ((size_t(s.width) * s.bits + 31) >> 3) & ~size_t(3);
  const bool masks_after = s.bitfields && s.header_size == 40;
  const size_t data_at = 14 + s.header_size + (masks_after ? 12 : 0) + s.palette.size();
  out.reserve(data_at + stride * size_t(s.height));
  out.push_back('B');
  out.push_back('M');
  u32(uint32_t(data_at + stride * s.height));
  u32(0);
  u32(uint32_t(data_at));
  u32(uint32_t(s.header_size));
  if (s.header_size == 12) {
    u16(uint32_t(s.width)), u16(uint32_t(s.height)), u16(1), u16(uint32_t(s.bits));
  } else {
    u32(uint32_t(s.width));
    u32(s.top_down ? uint32_t(-s.height) : uint32_t(s.height));
    u16(1), u16(uint32_t(s.bits));
    u32(s.bitfields ? 3 : 0);
    u32(uint32_t(stride * s.height));
    u32(2835), u32(2835);
    u32(uint32_t(s.colors_used)), u32(0);
    if (s.header_size > 40) {
      for (uint32_t m : s.masks) u32(s.bitfields ? m : 0);
      while (out.size() < 14 + size_t(s.header_size)) out.push_back(0);  // colour space etc.
    } else if (masks_after) {
      for (int i = 0; i < 3; ++i) u32(s.masks[i]);
    }
  }
  out.insert(out.end(), s.palette.begin(), s.palette.end());
  for (int i = 0; i < s.height; ++i) {
    const int y = s.top_down ? i : s.height - 1 - i;  // bottom-up files start at the last row
    const uint8_t* row = s.pixels.data() + size_t(y) * in_row;
    out.insert(out.end(), row, row + in_row);
    out.insert(out.end(), stride - in_row, 0);
  }
  return out;
}

bool write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return bool(f);
}

}  // namespace dsvl::test
