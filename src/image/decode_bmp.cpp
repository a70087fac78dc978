// BMP, our own parser, following Pillow 9.4's BmpImagePlugin field by field so the same files
// open and give the same pixels:
//   * headers of 12 (OS/2 v1), 40, 64, 108 and 124 bytes; a height whose top byte is 0xFF is a
//     negative (top-down) height, anything else is bottom-up;
//   * 1/4/8-bit palette images (B,G,R[,X] entries, `colors` of them or 1 << bits), 16-bit 5-5-5,
//     24-bit BGR, 32-bit BGRX; BI_BITFIELDS only with the mask layouts Pillow lists;
//   * pixel data at the file header's offset (Pillow's adjustment when that offset points right
//     after the header of a palette image is kept), rows padded to 4 bytes.
// RLE4/RLE8 and embedded JPEG/PNG are refused with a clear message. Pillow refuses palette
// images whose palette is the gray ramp at fewer than 8 bits (a raw-mode bug); we decode them.
#include <cstring>
#include <string>

#include "image/decode_internal.h"

namespace dsvl::image::detail {
namespace {

enum Compression : uint32_t { kRaw = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3 };

// How one pixel of a 16/24/32-bit row becomes RGB.
enum class Layout { kPalette, kBgr15, kBgr16, kBytes };

struct BmpInfo {
  int64_t width = 0, height = 0;
  bool top_down = false;
  int bits = 0;
  uint32_t compression = kRaw;
  uint32_t colors = 0;
  int palette_stride = 4;
  Layout layout = Layout::kPalette;
  int bytes_per_pixel = 0;  // kBytes
  int r = 2, g = 1, b = 0;  // byte offsets of R, G, B inside a pixel (kBytes)
};

class Reader {
 public:
  explicit Reader(const Source& src) : src_(src) {}
  uint32_t u16(size_t at) const { return need(at, 2), uint32_t(p(at)[0] | p(at)[1] << 8); }
  uint32_t u32(size_t at) const {
    need(at, 4);
    return uint32_t(p(at)[0]) | uint32_t(p(at)[1]) << 8 | uint32_t(p(at)[2]) << 16 |
           uint32_t(p(at)[3]) << 24;
  }
  const uint8_t* bytes(size_t at, size_t n) const { return need(at, n), p(at); }
  void need(size_t at, size_t n) const {
    if (at > src_.size || n > src_.size - at)
      fail(src_, "truncated BMP (the file ends before the " +
                     std::string(at < 54 ? "header" : "pixel data") + " is complete)");
  }

 private:
  const uint8_t* p(size_t at) const { return src_.data + at; }
  const Source& src_;
};

// Pillow's BITFIELDS table (BmpImagePlugin SUPPORTED / MASK_MODES).
void apply_masks(const Source& src, BmpInfo& info, uint32_t rm, uint32_t gm, uint32_t bm,
                 uint32_t am) {
  auto is = [&](uint32_t r, uint32_t g, uint32_t b) { return rm == r && gm == g && bm == b; };
  if (info.bits == 32) {
    if ((is(0xFF0000, 0xFF00, 0xFF) && (am == 0 || am == 0xFF000000)) || (is(0, 0, 0) && am == 0)) {
      info.r = 2, info.g = 1, info.b = 0;  // BGRX / BGRA
      return;
    }
    if (is(0xFF000000, 0xFF0000, 0xFF00) && (am == 0 || am == 0xFF)) {
      info.r = 3, info.g = 2, info.b = 1;  // XBGR / ABGR
      return;
    }
    if (is(0xFF, 0xFF00, 0xFF0000) && am == 0xFF000000) {
      info.r = 0, info.g = 1, info.b = 2;  // RGBA
      return;
    }
  } else if (info.bits == 24 && is(0xFF0000, 0xFF00, 0xFF)) {
    return;  // BGR
  } else if (info.bits == 16 && is(0xF800, 0x7E0, 0x1F)) {
    info.layout = Layout::kBgr16;
    return;
  } else if (info.bits == 16 && is(0x7C00, 0x3E0, 0x1F)) {
    return;  // BGR;15
  }
  fail(src, "unsupported BMP bitfields layout (masks " + std::to_string(rm) + ", " +
                std::to_string(gm) + ", " + std::to_string(bm) + ")");
}

// Reads the info header; returns the file position after it (and after 40-byte masks).
size_t parse_header(const Source& src, const Reader& rd, BmpInfo& info) {
  const uint32_t header_size = rd.u32(14);
  size_t pos = 14 + size_t(header_size);
  if (header_size == 12) {
    info.width = rd.u16(18);
    info.height = rd.u16(20);
    info.bits = int(rd.u16(24));
    info.palette_stride = 3;
  } else if (header_size == 40 || header_size == 64 || header_size == 108 || header_size == 124) {
    rd.need(14, header_size);
    info.width = rd.u32(18);
    const uint32_t h = rd.u32(22);
    info.top_down = (h >> 24) == 0xFF;
    info.height = info.top_down ? int64_t(0x100000000) - h : int64_t(h);
    info.bits = int(rd.u16(28));
    info.compression = rd.u32(30);
    info.colors = rd.u32(46);
  } else {
    fail(src, "unsupported BMP header type (" + std::to_string(header_size) + " bytes)");
  }
  if (info.colors == 0 && info.bits < 32) info.colors = 1u << info.bits;

  switch (info.bits) {
    case 1:
    case 4:
    case 8:
      info.layout = Layout::kPalette;
      break;
    case 16:
      info.layout = Layout::kBgr15;
      break;
    case 24:
      info.layout = Layout::kBytes, info.bytes_per_pixel = 3;
      break;
    case 32:
      info.layout = Layout::kBytes, info.bytes_per_pixel = 4;
      break;
    default:
      fail(src, "unsupported BMP pixel depth (" + std::to_string(info.bits) + " bits)");
  }
  if (info.compression == kBitfields) {
    uint32_t m[4] = {0, 0, 0, 0};
    if (header_size >= 56) {
      for (int i = 0; i < 4; ++i) m[i] = rd.u32(14 + 40 + 4 * size_t(i));
    } else {  // 40-byte header: three masks follow it; the fourth RGBQUAD byte is not alpha
      for (int i = 0; i < 3; ++i) m[i] = rd.u32(pos + 4 * size_t(i));
      pos += 12;
    }
    if (info.layout == Layout::kPalette)
      fail(src, "unsupported BMP bitfields layout (palette image)");
    apply_masks(src, info, m[0], m[1], m[2], m[3]);
  } else if (info.compression == kRle8 || info.compression == kRle4) {
    fail(src, "unsupported BMP compression (RLE)");
  } else if (info.compression != kRaw) {
    fail(src, "unsupported BMP compression (" + std::to_string(info.compression) + ")");
  }
  return pos;
}

void convert_row(const BmpInfo& info, const Palette& pal, const uint8_t* in, uint8_t* out) {
  const int w = int(info.width);
  switch (info.layout) {
    case Layout::kPalette: {
      const int per_byte = 8 / info.bits, mask = (1 << info.bits) - 1;
      for (int x = 0; x < w; ++x) {
        const int shift = 8 - info.bits * (x % per_byte + 1);  // most significant bits first
        std::memcpy(out + 3 * x, pal.at((in[x / per_byte] >> shift) & mask), 3);
      }
      return;
    }
    case Layout::kBgr15:
    case Layout::kBgr16: {  // Pillow ImagingUnpackBGR15 / BGR16: v * 255 / max, truncated
      const bool six = info.layout == Layout::kBgr16;
      for (int x = 0; x < w; ++x) {
        const int v = in[2 * x] | in[2 * x + 1] << 8;
        out[3 * x + 2] = uint8_t((v & 31) * 255 / 31);
        out[3 * x + 1] = uint8_t(six ? ((v >> 5) & 63) * 255 / 63 : ((v >> 5) & 31) * 255 / 31);
        out[3 * x + 0] = uint8_t(((v >> (six ? 11 : 10)) & 31) * 255 / 31);
      }
      return;
    }
    case Layout::kBytes:
      for (int x = 0; x < w; ++x) {
        const uint8_t* p = in + x * info.bytes_per_pixel;
        out[3 * x] = p[info.r], out[3 * x + 1] = p[info.g], out[3 * x + 2] = p[info.b];
      }
      return;
  }
}

}  // namespace

RgbImage decode_bmp(const Source& src) {
  const Reader rd(src);
  uint32_t offset = rd.u32(10);
  const uint32_t header_size = rd.u32(14);
  BmpInfo info;
  size_t pos = parse_header(src, rd, info);
  check_dimensions(src, "BMP", info.width, info.height);

  Palette pal;
  if (info.layout == Layout::kPalette) {
    if (info.colors > 256)
      fail(src, "unsupported BMP palette size (" + std::to_string(info.colors) + " colors)");
    const size_t bytes = size_t(info.palette_stride) * info.colors;
    pal = Palette(rd.bytes(pos, bytes), int(info.colors), info.palette_stride, /*bgr=*/true);
    pos += bytes;
    // Pillow: an offset pointing right after the header means "the palette was not counted".
    if (offset == 14 + header_size) offset += 4 * info.colors;
  }
  const size_t data_at = offset ? offset : pos;
  const size_t stride = ((size_t(info.width) * size_t(info.bits) + 31) >> 3) & ~size_t(3);
  const int w = int(info.width), h = int(info.height);
  // Checked up front, so a short file fails before any allocation for pixels.
  rd.need(data_at, stride * size_t(h));

  RgbImage img = new_image(w, h);
  for (int y = 0; y < h; ++y) {
    const int out_y = info.top_down ? y : h - 1 - y;
    convert_row(info, pal, rd.bytes(data_at + size_t(y) * stride, stride),
                img.rgb.data() + size_t(out_y) * size_t(w) * 3);
  }
  return img;
}

}  // namespace dsvl::image::detail
