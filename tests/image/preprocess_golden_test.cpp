// The conformance kit's processor goldens (../shared/conformance/preprocess): our padded u8
// square must equal pixel_values_u8 exactly, and the hybrid tower's 384 input must be within
// 1e-5 of low_res_input. Each image also runs at the other size, checked by its properties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/shared.h"
#include "core/error.h"
#include "image/golden_reader.h"
#include "image/image.h"

namespace dsvl::image {
namespace {

struct KitImage {
  const char* file;    // in conformance/images
  const char* golden;  // in conformance/preprocess
  int golden_size;     // S of the golden
  int width, height;   // stored size
};

const KitImage kKit[] = {
    {"dog_a.png", "dog_a__1024.safetensors", 1024, 766, 714},
    {"logo.png", "logo__1024.safetensors", 1024, 780, 165},
    {"monday.jpg", "monday__384.safetensors", 384, 878, 620},
    {"synth_gray_1400x12.png", "synth_gray_1400x12__384.safetensors", 384, 1400, 12},
    {"synth_rgb_333x517.png", "synth_rgb_333x517__1024.safetensors", 1024, 333, 517},
};

// The two released processors (spec §4).
PreprocessConfig config_for(int size) {
  PreprocessConfig cfg;
  cfg.image_size = size;
  cfg.image_mean = size == 1024 ? kClipMean : kSiglipMean;
  return cfg;
}

void expect_u8_equal(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, int size,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && bad++ == 0) first = i;
  if (bad) {
    const size_t plane = size_t(size) * size;
    ADD_FAILURE() << what << ": " << bad << " of " << got.size()
                  << " values differ; first at c=" << first / plane << " y=" << first % plane / size
                  << " x=" << first % size << ": got " << int(got[first]) << ", want "
                  << int(want[first]);
  }
}

class PreprocessGolden : public ::testing::TestWithParam<KitImage> {};

TEST_P(PreprocessGolden, U8SquareIsExact) {
  const KitImage& k = GetParam();
  const std::string img_path = test::shared_path(std::string("conformance/images/") + k.file);
  const std::string golden_path =
      test::shared_path(std::string("conformance/preprocess/") + k.golden);
  if (img_path.empty() || golden_path.empty()) GTEST_SKIP() << "conformance kit not found";

  const RgbImage img = decode_file(img_path);
  ASSERT_EQ(img.width, k.width);
  ASSERT_EQ(img.height, k.height);
  const auto golden = test::read_safetensors(golden_path);
  const test::GoldenTensor& want = golden.at("pixel_values_u8");
  ASSERT_EQ(want.shape, (std::vector<int64_t>{3, k.golden_size, k.golden_size}));

  const PixelInputs px = make_pixel_inputs(img, config_for(k.golden_size));
  expect_u8_equal(px.u8, want.bytes, k.golden_size, k.golden);
  for (size_t i = 0; i < px.u8.size(); ++i)
    ASSERT_EQ(px.pixel_values[i], float(double(px.u8[i]) * 0.00392156862745098));

  // 7B goldens also hold the SigLIP branch input.
  auto low = golden.find("low_res_input");
  if (low == golden.end()) return;
  const std::vector<float> want_low = low->second.as_f32();
  const std::vector<float> got_low = resized_pixel_values(px, 384);
  ASSERT_EQ(got_low.size(), want_low.size());
  double max_err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < got_low.size(); ++i) {
    const double e = std::fabs(double(got_low[i]) - want_low[i]);
    if (e > max_err) max_err = e, worst = i;
  }
  EXPECT_LE(max_err, 1e-5) << "low_res_input: max abs error " << max_err << " at index " << worst;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", max_err);
  RecordProperty("low_res_max_abs_err", buf);
}

// At the size the kit does not cover: the right geometry, the pad colour exactly outside the
// pasted rectangle, and the rectangle equal to a direct Pillow-bicubic resize.
TEST_P(PreprocessGolden, OtherSizeProperties) {
  const KitImage& k = GetParam();
  const std::string img_path = test::shared_path(std::string("conformance/images/") + k.file);
  if (img_path.empty()) GTEST_SKIP() << "conformance kit not found";
  const int size = k.golden_size == 1024 ? 384 : 1024;
  const PreprocessConfig cfg = config_for(size);
  const RgbImage img = decode_file(img_path);
  const std::vector<uint8_t> u8 = preprocess_u8(img, cfg);
  ASSERT_EQ(u8.size(), size_t(3) * size * size);

  const Size2 sz = resized_size(img.width, img.height, cfg);
  const int m = std::max(k.width, k.height);
  EXPECT_EQ(std::max(sz.width, sz.height), size);
  EXPECT_EQ(sz.width, std::max(int(double(k.width) / m * size), 14));
  EXPECT_EQ(sz.height, std::max(int(double(k.height) / m * size), 14));
  const RgbImage resized = resize_bicubic(img, sz.width, sz.height);
  const int x0 = (size - sz.width) / 2, y0 = (size - sz.height) / 2;
  const std::array<uint8_t, 3> bg = background_color(cfg);
  size_t bad = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const bool inside = x >= x0 && x < x0 + sz.width && y >= y0 && y < y0 + sz.height;
        const uint8_t want =
            inside ? resized.rgb[(size_t(y - y0) * sz.width + (x - x0)) * 3 + c] : bg[size_t(c)];
        bad += u8[(size_t(c) * size + y) * size + x] != want;
      }
  EXPECT_EQ(bad, 0u) << k.file << " at " << size;
}

INSTANTIATE_TEST_SUITE_P(Kit, PreprocessGolden, ::testing::ValuesIn(kKit), [](const auto& info) {
  std::string n = info.param.file;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

TEST(Preprocess, BackgroundColours) {
  EXPECT_EQ(background_color(config_for(1024)), (std::array<uint8_t, 3>{122, 116, 104}));
  EXPECT_EQ(background_color(config_for(384)), (std::array<uint8_t, 3>{127, 127, 127}));
}

TEST(Preprocess, SpecSizeExamples) {  // spec §4 step 2
  const PreprocessConfig c1024 = config_for(1024);
  EXPECT_EQ(resized_size(333, 517, c1024).width, 659);
  EXPECT_EQ(resized_size(333, 517, c1024).height, 1024);
  EXPECT_EQ(resized_size(780, 165, c1024).height, 216);
  EXPECT_EQ(resized_size(1400, 12, c1024).height, 14);
  EXPECT_EQ(resized_size(1, 1, c1024).width, 1024);
}

TEST(Preprocess, RejectsBadConfigAndImage) {
  PreprocessConfig bad = config_for(384);
  bad.image_size = 10;  // below min_size
  RgbImage img{2, 2, std::vector<uint8_t>(12, 7)};
  EXPECT_THROW(preprocess_u8(img, bad), ConfigError);
  RgbImage broken{2, 2, std::vector<uint8_t>(5, 0)};
  EXPECT_THROW(preprocess_u8(broken, config_for(384)), ShapeError);
}

TEST(Preprocess, NormalizeIsTorchvisionFloat32) {
  std::vector<float> x(3 * 2 * 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) / 11.0f;
  const std::vector<float> y = normalized(x, 2, kClipMean, kClipStd);
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = i / 4;
    const float want = (x[i] - kClipMean[c]) / kClipStd[c];
    EXPECT_EQ(y[i], want);
  }
  EXPECT_THROW(normalize(x.data(), 2, kClipMean, {1.f, 0.f, 1.f}), ConfigError);
}

}  // namespace
}  // namespace dsvl::image
