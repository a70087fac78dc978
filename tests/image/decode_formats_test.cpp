// Every supported format and pixel layout decodes to what Pillow 9.4's
// Image.open(f).convert("RGB") gives. The expected pixels are computed here from the encoded
// samples with Pillow's rules, written independently of src/image.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <webp/decode.h>

#include "image/image.h"
#include "image/test_encoders.h"

namespace dsvl::image {
namespace {

using test::noise_bytes;

RgbImage decode(const std::vector<uint8_t>& bytes, const std::string& name = "test") {
  return decode_memory(bytes.data(), bytes.size(), name);
}

void expect_image(const RgbImage& got, int w, int h, const std::vector<uint8_t>& want,
                  const std::string& what) {
  ASSERT_EQ(got.width, w) << what;
  ASSERT_EQ(got.height, h) << what;
  ASSERT_EQ(got.rgb.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got.rgb[i] != want[i]) {
      FAIL() << what << ": first difference at pixel " << i / 3 << " (x=" << i / 3 % w
             << ", y=" << i / 3 / w << ") channel " << i % 3 << ": got " << int(got.rgb[i])
             << ", want " << int(want[i]);
    }
  }
}

// ---- PNG ---------------------------------------------------------------------------------

// Pillow's mode for each (color type, depth) and that mode's convert("RGB"), per pixel.
std::vector<uint8_t> pillow_png_rgb(const test::PngSpec& s) {
  std::vector<uint8_t> out;
  const size_t n = size_t(s.width) * s.height;
  const int ch = s.color_type == 0 || s.color_type == 3 ? 1
                 : s.color_type == 4                    ? 2
                 : s.color_type == 2                    ? 3
                                                        : 4;
  for (size_t i = 0; i < n; ++i) {
    const uint16_t* p = &s.samples[i * ch];
    uint8_t r, g, b;
    if (s.color_type == 0) {
      // "1", "L;2", "L;4" scale to 8 bits; "I;16B" is mode I, clamped by i2rgb.
      const int v =
          s.bit_depth == 16 ? std::min<int>(p[0], 255) : p[0] * 255 / ((1 << s.bit_depth) - 1);
      r = g = b = uint8_t(v);
    } else if (s.color_type == 3) {
      const size_t count = s.palette.size() / 3;
      if (p[0] < count) {
        r = s.palette[3 * p[0]], g = s.palette[3 * p[0] + 1], b = s.palette[3 * p[0] + 2];
      } else {
        r = g = b = uint8_t(p[0]);  // Pillow's default palette ramp
      }
    } else {
      const int shift = s.bit_depth == 16 ? 8 : 0;
      r = uint8_t(p[0] >> shift);
      g = uint8_t(p[ch >= 3 ? 1 : 0] >> shift);
      b = uint8_t(p[ch >= 3 ? 2 : 0] >> shift);
    }
    out.insert(out.end(), {r, g, b});
  }
  return out;
}

test::PngSpec random_png(int color_type, int depth, bool interlace, uint32_t seed) {
  test::PngSpec s;
  s.width = 13, s.height = 11;  // odd sizes: partial bytes at low depths, all Adam7 passes
  s.color_type = color_type, s.bit_depth = depth, s.interlace = interlace;
  const int ch = color_type == 0 || color_type == 3 ? 1
                 : color_type == 4                  ? 2
                 : color_type == 2                  ? 3
                                                    : 4;
  const std::vector<uint8_t> noise = noise_bytes(size_t(s.width) * s.height * ch * 2, seed);
  s.samples.resize(size_t(s.width) * s.height * ch);
  for (size_t i = 0; i < s.samples.size(); ++i) {
    uint32_t v = uint32_t(noise[2 * i]) << 8 | noise[2 * i + 1];
    // 16-bit gray: half the values below 256, so both sides of Pillow's clamp show.
    if (color_type == 0 && depth == 16 && (i & 1)) v &= 0xFF;
    s.samples[i] = uint16_t(v & ((1u << depth) - 1));
  }
  if (color_type == 3) {
    // A short palette (fewer entries than indices) so the default ramp is exercised.
    const int entries = depth == 1 ? 1 : (1 << depth) - 3;
    s.palette = noise_bytes(size_t(entries) * 3, seed + 1);
    s.trns = {0, 128};  // ignored by convert("RGB")
  }
  if (color_type == 0 && depth == 8) s.trns = {0, 7};
  if (color_type == 2 && depth == 8) s.trns = {0, 1, 0, 2, 0, 3};
  return s;
}

struct PngCase {
  int color_type, depth;
};

class PngModes : public ::testing::TestWithParam<PngCase> {};

TEST_P(PngModes, MatchPillowConvertRgb) {
  const PngCase c = GetParam();
  for (bool interlace : {false, true}) {
    const test::PngSpec s =
        random_png(c.color_type, c.depth, interlace, 7u * c.color_type + c.depth);
    const std::string what = "PNG type " + std::to_string(c.color_type) + " depth " +
                             std::to_string(c.depth) + (interlace ? " interlaced" : "");
    expect_image(decode(test::encode_png(s)), s.width, s.height, pillow_png_rgb(s), what);
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, PngModes,
                         ::testing::Values(PngCase{0, 1}, PngCase{0, 2}, PngCase{0, 4},
                                           PngCase{0, 8}, PngCase{0, 16}, PngCase{2, 8},
                                           PngCase{2, 16}, PngCase{3, 1}, PngCase{3, 2},
                                           PngCase{3, 4}, PngCase{3, 8}, PngCase{4, 8},
                                           PngCase{4, 16}, PngCase{6, 8}, PngCase{6, 16}),
                         [](const auto& info) {
                           return "type" + std::to_string(info.param.color_type) + "_depth" +
                                  std::to_string(info.param.depth);
                         });

TEST(DecodePng, TransparentPixelsKeepTheirColour) {
  test::PngSpec s;
  s.width = 2, s.height = 1, s.color_type = 6;
  s.samples = {10, 20, 30, 0, 40, 50, 60, 255};  // first pixel fully transparent
  expect_image(decode(test::encode_png(s)), 2, 1, {10, 20, 30, 40, 50, 60}, "RGBA alpha 0");
}

// ---- JPEG --------------------------------------------------------------------------------

// libjpeg decode with Pillow's settings, components as stored (test inputs are valid).
std::vector<uint8_t> libjpeg_decode(const std::vector<uint8_t>& bytes, J_COLOR_SPACE space) {
  jpeg_decompress_struct d;
  jpeg_error_mgr err;
  d.err = jpeg_std_error(&err);
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  d.out_color_space = space;
  d.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&d);
  const size_t stride = size_t(d.output_width) * d.output_components;
  std::vector<uint8_t> out(stride * d.output_height);
  while (d.output_scanline < d.output_height) {
    JSAMPROW row = out.data() + d.output_scanline * stride;
    jpeg_read_scanlines(&d, &row, 1);
  }
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  return out;
}

TEST(DecodeJpeg, RgbMatchesLibjpegIslow) {
  for (bool progressive : {false, true})
    for (bool subsample : {true, false}) {
      test::JpegSpec s;
      s.width = 37, s.height = 29, s.progressive = progressive, s.subsample = subsample;
      s.pixels = test::photo_like_rgb(s.width, s.height, 3);
      const std::vector<uint8_t> jpg = test::encode_jpeg(s);
      const RgbImage img = decode(jpg);
      expect_image(img, s.width, s.height, libjpeg_decode(jpg, JCS_RGB), "RGB JPEG");
      double err = 0;
      for (size_t i = 0; i < s.pixels.size(); ++i) err += std::abs(img.rgb[i] - s.pixels[i]);
      EXPECT_LT(err / double(s.pixels.size()), 12.0) << "decoded image far from the source";
    }
}

TEST(DecodeJpeg, GrayIsReplicated) {
  test::JpegSpec s;
  s.width = 21, s.height = 9, s.components = 1;
  s.pixels = noise_bytes(size_t(s.width) * s.height, 5);
  const std::vector<uint8_t> jpg = test::encode_jpeg(s);
  const std::vector<uint8_t> gray = libjpeg_decode(jpg, JCS_GRAYSCALE);
  std::vector<uint8_t> want;
  for (uint8_t v : gray) want.insert(want.end(), {v, v, v});
  expect_image(decode(jpg), s.width, s.height, want, "gray JPEG");
}

TEST(DecodeJpeg, CmykFollowsPillow) {
  test::JpegSpec s;
  s.width = 19, s.height = 14, s.components = 4;
  s.pixels = noise_bytes(size_t(s.width) * s.height * 4, 6);
  const std::vector<uint8_t> jpg = test::encode_jpeg(s);
  const std::vector<uint8_t> raw = libjpeg_decode(jpg, JCS_CMYK);
  // Pillow: rawmode "CMYK;I" inverts each byte, then cmyk2rgb:
  //   nk = 255 - K; out = clip(nk - (C*nk + 128 + ((C*nk + 128) >> 8)) >> 8).
  std::vector<uint8_t> want;
  for (size_t i = 0; i < raw.size(); i += 4) {
    const int k = 255 - raw[i + 3], nk = 255 - k;
    for (int c = 0; c < 3; ++c) {
      const int cc = 255 - raw[i + c];
      const int t = cc * nk + 128;
      want.push_back(uint8_t(std::clamp(nk - (((t >> 8) + t) >> 8), 0, 255)));
    }
  }
  expect_image(decode(jpg), s.width, s.height, want, "CMYK JPEG");
}

// ---- WebP --------------------------------------------------------------------------------

TEST(DecodeWebp, LosslessRgbIsExact) {
  const int w = 23, h = 17;
  const std::vector<uint8_t> rgb = test::photo_like_rgb(w, h, 8);
  expect_image(decode(test::encode_webp(w, h, rgb, false, true)), w, h, rgb, "lossless WebP");
}

TEST(DecodeWebp, AlphaIsDroppedNotComposited) {
  const int w = 9, h = 5;
  std::vector<uint8_t> rgba = noise_bytes(size_t(w) * h * 4, 9), rgb;
  for (size_t i = 0; i < rgba.size(); i += 4) {
    if (i % 12 == 0) rgba[i + 3] = 0;  // some fully transparent pixels
    rgb.insert(rgb.end(), {rgba[i], rgba[i + 1], rgba[i + 2]});
  }
  expect_image(decode(test::encode_webp(w, h, rgba, true, true)), w, h, rgb, "RGBA WebP");
}

TEST(DecodeWebp, LossyMatchesLibwebp) {
  const int w = 31, h = 18;
  const std::vector<uint8_t> webp =
      test::encode_webp(w, h, test::photo_like_rgb(w, h, 10), false, false);
  int dw = 0, dh = 0;
  uint8_t* ref = WebPDecodeRGB(webp.data(), webp.size(), &dw, &dh);
  ASSERT_NE(ref, nullptr);
  const std::vector<uint8_t> want(ref, ref + size_t(w) * h * 3);
  WebPFree(ref);
  expect_image(decode(webp), w, h, want, "lossy WebP");
}

// ---- GIF ---------------------------------------------------------------------------------

std::vector<uint8_t> lookup(const std::vector<uint8_t>& idx, const std::vector<uint8_t>& pal) {
  std::vector<uint8_t> out;
  for (uint8_t i : idx) {
    if (size_t(i) * 3 < pal.size())
      out.insert(out.end(), {pal[3 * i], pal[3 * i + 1], pal[3 * i + 2]});
    else
      out.insert(out.end(), {i, i, i});
  }
  return out;
}

TEST(DecodeGif, GlobalPaletteAndInterlace) {
  for (bool interlace : {false, true}) {
    test::GifSpec s;
    s.screen_width = s.width = 11, s.screen_height = s.height = 13;
    s.global_palette = noise_bytes(16 * 3, 11);
    s.interlace = interlace;
    s.indices = noise_bytes(size_t(s.width) * s.height, 12);
    for (auto& i : s.indices) i &= 15;
    expect_image(decode(test::encode_gif(s)), 11, 13, lookup(s.indices, s.global_palette),
                 interlace ? "interlaced GIF" : "GIF");
  }
}

TEST(DecodeGif, LocalPaletteWins) {
  test::GifSpec s;
  s.screen_width = s.width = 4, s.screen_height = s.height = 3;
  s.global_palette = noise_bytes(4 * 3, 13);
  s.local_palette = noise_bytes(4 * 3, 14);
  s.indices = {0, 1, 2, 3, 3, 2, 1, 0, 1, 1, 2, 2};
  expect_image(decode(test::encode_gif(s)), 4, 3, lookup(s.indices, s.local_palette), "local");
}

TEST(DecodeGif, NoPaletteMeansGrayIndices) {
  test::GifSpec s;
  s.screen_width = s.width = 3, s.screen_height = s.height = 2;
  s.local_palette = {};  // and no global one: Pillow opens it as mode "L"
  s.global_palette = {};
  s.indices = {0, 1, 2, 3, 4, 5};
  // giflib needs some colour map to size the LZW codes; give a local ramp of 8 grays, which
  // Pillow also treats as "no palette needed" (mode L): index i -> (i, i, i) either way.
  for (int i = 0; i < 8; ++i)
    s.local_palette.insert(s.local_palette.end(), {uint8_t(i), uint8_t(i), uint8_t(i)});
  expect_image(decode(test::encode_gif(s)), 3, 2, lookup(s.indices, {}), "gray GIF");
}

TEST(DecodeGif, CanvasFillAndGrowth) {
  // A 3x2 frame at (2, 1) on a 4x2 screen: the canvas grows to 5x3; pixels outside the frame
  // hold the transparent index (5) when the GCE sets one, else index 0.
  for (int transparent : {-1, 5}) {
    test::GifSpec s;
    s.screen_width = 4, s.screen_height = 2;
    s.left = 2, s.top = 1, s.width = 3, s.height = 2;
    s.global_palette = noise_bytes(8 * 3, 15);
    s.transparent = transparent;
    s.indices = {1, 2, 3, 4, 6, 7};
    std::vector<uint8_t> canvas(5 * 3, uint8_t(transparent >= 0 ? transparent : 0));
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) canvas[size_t(1 + y) * 5 + 2 + x] = s.indices[size_t(y) * 3 + x];
    expect_image(decode(test::encode_gif(s)), 5, 3, lookup(canvas, s.global_palette),
                 "GIF canvas, transparent " + std::to_string(transparent));
  }
}

// ---- BMP ---------------------------------------------------------------------------------

TEST(DecodeBmp, TrueColourLayouts) {
  const int w = 5, h = 3;  // 5*3 bytes per row: padding needed
  const std::vector<uint8_t> rgb = noise_bytes(size_t(w) * h * 3, 16);
  for (bool top_down : {false, true}) {
    test::BmpSpec s;
    s.width = w, s.height = h, s.bits = 24, s.top_down = top_down;
    for (size_t i = 0; i < rgb.size(); i += 3)
      s.pixels.insert(s.pixels.end(), {rgb[i + 2], rgb[i + 1], rgb[i]});
    expect_image(decode(test::encode_bmp(s)), w, h, rgb, top_down ? "24-bit top-down" : "24-bit");
    s.header_size = 12;
    if (!top_down) expect_image(decode(test::encode_bmp(s)), w, h, rgb, "OS/2 24-bit");
  }
  // 32-bit: plain BGRX, and the bitfield layouts Pillow accepts.
  struct Layout {
    uint32_t masks[4];
    bool bitfields;
    int header;
    int r, g, b;  // byte positions
  };
  const Layout layouts[] = {
      {{0, 0, 0, 0}, false, 40, 2, 1, 0},
      {{0xFF0000, 0xFF00, 0xFF, 0}, true, 40, 2, 1, 0},
      {{0xFF0000, 0xFF00, 0xFF, 0xFF000000}, true, 124, 2, 1, 0},
      {{0xFF, 0xFF00, 0xFF0000, 0xFF000000}, true, 108, 0, 1, 2},
      {{0xFF000000, 0xFF0000, 0xFF00, 0}, true, 124, 3, 2, 1},
  };
  for (const Layout& l : layouts) {
    test::BmpSpec s;
    s.width = w, s.height = h, s.bits = 32, s.bitfields = l.bitfields, s.header_size = l.header;
    std::copy(l.masks, l.masks + 4, s.masks);
    s.pixels.resize(size_t(w) * h * 4, 0x5A);
    for (size_t p = 0; p < size_t(w) * h; ++p) {
      s.pixels[4 * p + l.r] = rgb[3 * p], s.pixels[4 * p + l.g] = rgb[3 * p + 1];
      s.pixels[4 * p + l.b] = rgb[3 * p + 2];
    }
    expect_image(decode(test::encode_bmp(s)), w, h, rgb,
                 "32-bit header " + std::to_string(l.header) + " r@" + std::to_string(l.r));
  }
}

TEST(DecodeBmp, SixteenBit) {
  const int w = 3, h = 2;
  const std::vector<uint8_t> words = noise_bytes(size_t(w) * h * 2, 17);
  for (bool six : {false, true}) {
    test::BmpSpec s;
    s.width = w, s.height = h, s.bits = 16, s.pixels = words;
    if (six) s.bitfields = true, s.masks[0] = 0xF800, s.masks[1] = 0x7E0, s.masks[2] = 0x1F;
    std::vector<uint8_t> want;
    for (size_t i = 0; i < words.size(); i += 2) {
      const int v = words[i] | words[i + 1] << 8;
      if (six)
        want.insert(want.end(), {uint8_t((v >> 11 & 31) * 255 / 31),
                                 uint8_t((v >> 5 & 63) * 255 / 63), uint8_t((v & 31) * 255 / 31)});
      else
        want.insert(want.end(), {uint8_t((v >> 10 & 31) * 255 / 31),
                                 uint8_t((v >> 5 & 31) * 255 / 31), uint8_t((v & 31) * 255 / 31)});
    }
    expect_image(decode(test::encode_bmp(s)), w, h, want, six ? "565" : "555");
  }
}

TEST(DecodeBmp, Palettes) {
  const int w = 7, h = 3;
  for (int bits : {1, 4, 8}) {
    for (int header : {40, 12}) {
      test::BmpSpec s;
      s.width = w, s.height = h, s.bits = bits, s.header_size = header;
      const int stride = header == 12 ? 3 : 4;
      // 8-bit: a short palette (5 colours) so indices past it read the gray ramp.
      const int colors = bits == 8 ? 5 : 1 << bits;
      if (header != 12) s.colors_used = bits == 8 ? 5 : 0;
      if (header == 12 && bits == 8) continue;  // OS/2 v1 has no colour count
      std::vector<uint8_t> pal_rgb = noise_bytes(size_t(colors) * 3, 18 + bits);
      for (int i = 0; i < colors; ++i) {
        s.palette.insert(s.palette.end(), {pal_rgb[3 * i + 2], pal_rgb[3 * i + 1], pal_rgb[3 * i]});
        if (stride == 4) s.palette.push_back(0);
      }
      const std::vector<uint8_t> idx_noise = noise_bytes(size_t(w) * h, 19 + bits);
      std::vector<uint8_t> indices;
      for (uint8_t v : idx_noise)
        indices.push_back(uint8_t(bits == 8 ? v % 12 : v & ((1 << bits) - 1)));
      const int per_byte = 8 / bits;
      const size_t row = (size_t(w) * bits + 7) / 8;
      s.pixels.assign(row * h, 0);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          s.pixels[size_t(y) * row + size_t(x / per_byte)] |=
              uint8_t(indices[size_t(y) * w + x] << (8 - bits * (x % per_byte + 1)));
      expect_image(decode(test::encode_bmp(s)), w, h, lookup(indices, pal_rgb),
                   std::to_string(bits) + "-bit palette, header " + std::to_string(header));
    }
  }
}

}  // namespace
}  // namespace dsvl::image
