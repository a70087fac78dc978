// Tiny seed images for the image-decoder fuzzer, one or more per supported format, committed in
// tests/fuzz-seeds/image/. They are produced by the encoders in test_encoders.cpp:
//   DSVL_WRITE_FUZZ_SEEDS=1 ./dsvl_tests --gtest_filter='FuzzSeeds.*'
// rewrites them. Normally the test only checks the committed files still decode as intended.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "image/image.h"
#include "image/test_encoders.h"

namespace dsvl::image {
namespace {

struct Seed {
  std::string name;
  std::vector<uint8_t> bytes;
  int width, height;
  std::vector<uint8_t> rgb;  // expected pixels when the format is lossless, else empty
};

std::vector<Seed> make_seeds() {
  std::vector<Seed> seeds;
  const int w = 7, h = 5;
  const std::vector<uint8_t> rgb = test::photo_like_rgb(w, h, 42);

  test::PngSpec png;
  png.width = w, png.height = h, png.color_type = 2;
  png.samples.assign(rgb.begin(), rgb.end());
  seeds.push_back({"rgb.png", test::encode_png(png), w, h, rgb});

  test::PngSpec pal;  // palette + tRNS + Adam7: the PNG paths Pillow treats specially
  pal.width = w, pal.height = h, pal.color_type = 3, pal.bit_depth = 4, pal.interlace = true;
  pal.palette = test::noise_bytes(6 * 3, 43);
  pal.trns = {0, 255, 128};
  std::vector<uint8_t> pal_rgb;
  for (int i = 0; i < w * h; ++i) {
    const int idx = i % 9;  // 6 palette entries: indices 6..8 read the gray ramp
    pal.samples.push_back(uint16_t(idx));
    for (int c = 0; c < 3; ++c)
      pal_rgb.push_back(idx < 6 ? pal.palette[size_t(3 * idx + c)] : uint8_t(idx));
  }
  seeds.push_back({"palette_interlaced.png", test::encode_png(pal), w, h, pal_rgb});

  test::PngSpec g16;
  g16.width = w, g16.height = h, g16.color_type = 4, g16.bit_depth = 16;
  std::vector<uint8_t> g16_rgb;
  for (int i = 0; i < w * h; ++i) {
    const uint16_t gray = uint16_t(i * 1871), alpha = uint16_t(i * 977);
    g16.samples.insert(g16.samples.end(), {gray, alpha});
    g16_rgb.insert(g16_rgb.end(), 3, uint8_t(gray >> 8));
  }
  seeds.push_back({"gray_alpha16.png", test::encode_png(g16), w, h, g16_rgb});

  test::JpegSpec jpg;
  jpg.width = 16, jpg.height = 16, jpg.pixels = test::photo_like_rgb(16, 16, 44);
  seeds.push_back({"baseline.jpg", test::encode_jpeg(jpg), 16, 16, {}});
  jpg.progressive = true;
  seeds.push_back({"progressive.jpg", test::encode_jpeg(jpg), 16, 16, {}});
  test::JpegSpec cmyk;
  cmyk.width = 8, cmyk.height = 8, cmyk.components = 4, cmyk.pixels = test::noise_bytes(256, 45);
  seeds.push_back({"cmyk.jpg", test::encode_jpeg(cmyk), 8, 8, {}});

  seeds.push_back({"lossless.webp", test::encode_webp(w, h, rgb, false, true), w, h, rgb});
  seeds.push_back({"lossy.webp", test::encode_webp(w, h, rgb, false, false), w, h, {}});

  test::GifSpec gif;
  gif.screen_width = gif.width = w, gif.screen_height = gif.height = h;
  gif.global_palette = test::noise_bytes(8 * 3, 46);
  gif.transparent = 3;
  std::vector<uint8_t> gif_rgb;
  for (int i = 0; i < w * h; ++i) {
    gif.indices.push_back(uint8_t(i % 8));
    for (int c = 0; c < 3; ++c) gif_rgb.push_back(gif.global_palette[size_t(3 * (i % 8) + c)]);
  }
  seeds.push_back({"palette.gif", test::encode_gif(gif), w, h, gif_rgb});

  test::BmpSpec bmp;
  bmp.width = w, bmp.height = h, bmp.bits = 24;
  for (size_t i = 0; i < rgb.size(); i += 3)
    bmp.pixels.insert(bmp.pixels.end(), {rgb[i + 2], rgb[i + 1], rgb[i]});
  seeds.push_back({"rgb24.bmp", test::encode_bmp(bmp), w, h, rgb});
  test::BmpSpec bmp8;
  bmp8.width = w, bmp8.height = h, bmp8.bits = 8, bmp8.top_down = true, bmp8.colors_used = 4;
  bmp8.palette = {10, 20, 30, 0, 40, 50, 60, 0, 70, 80, 90, 0, 1, 2, 3, 0};
  std::vector<uint8_t> bmp8_rgb;
  for (int i = 0; i < w * h; ++i) {
    bmp8.pixels.push_back(uint8_t(i % 4));
    const uint8_t* q = &bmp8.palette[size_t(4 * (i % 4))];
    bmp8_rgb.insert(bmp8_rgb.end(), {q[2], q[1], q[0]});
  }
  seeds.push_back({"palette8_topdown.bmp", test::encode_bmp(bmp8), w, h, bmp8_rgb});
  return seeds;
}

TEST(FuzzSeeds, CommittedSeedsDecode) {
  const std::filesystem::path dir =
      std::filesystem::path(DSVL_SOURCE_DIR) / "tests/fuzz-seeds/image";
  const std::vector<Seed> seeds = make_seeds();
  if (std::getenv("DSVL_WRITE_FUZZ_SEEDS")) {
    std::filesystem::create_directories(dir);
    for (const Seed& s : seeds) ASSERT_TRUE(test::write_file((dir / s.name).string(), s.bytes));
  }
  for (const Seed& s : seeds) {
    SCOPED_TRACE(s.name);
    const std::string path = (dir / s.name).string();
    ASSERT_TRUE(std::filesystem::exists(path))
        << "missing seed; regenerate with DSVL_WRITE_FUZZ_SEEDS=1";
    const RgbImage img = decode_file(path);
    EXPECT_EQ(img.width, s.width);
    EXPECT_EQ(img.height, s.height);
    if (!s.rgb.empty()) {
      EXPECT_EQ(img.rgb, s.rgb);
    }
    // The freshly encoded bytes decode the same way (lossy formats: same decoder, same bytes
    // only if the encoder is unchanged, so compare sizes there).
    const RgbImage fresh = decode_memory(s.bytes.data(), s.bytes.size(), s.name);
    EXPECT_EQ(fresh.rgb.size(), img.rgb.size());
  }
}

}  // namespace
}  // namespace dsvl::image
