// assets/sample.png (the README's quick-start picture) is what tools/make_sample_image draws.
#include <gtest/gtest.h>
#include <png.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/shared.h"

namespace dsvl::test {
namespace {
namespace fs = std::filesystem;

// Decodes a PNG to 8-bit RGB with libpng's simplified API; empty on failure.
std::vector<uint8_t> read_rgb(const std::string& path, int* w, int* h) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return {};
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> px(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, px.data(), 0, nullptr)) return {};
  *w = int(img.width);
  *h = int(img.height);
  return px;
}

TEST(SampleImage, CommittedPictureMatchesGenerator) {
  const std::string committed = std::string(DSVL_SOURCE_DIR) + "/assets/sample.png";
  int w = 0, h = 0;
  const std::vector<uint8_t> want = read_rgb(committed, &w, &h);
  ASSERT_EQ(w, 256);
  ASSERT_EQ(h, 192);
  EXPECT_LT(fs::file_size(committed), 16u * 1024);

  const fs::path tool = fs::path(dsvl_binary()).parent_path() / "make_sample_image";
  if (!fs::exists(tool)) GTEST_SKIP() << "tools not built (DSVL_BUILD_TOOLS=OFF)";
  const std::string out = temp_dir("img") + "/sample.png";
  ASSERT_EQ(run_command(tool.string() + " " + out), 0);
  int w2 = 0, h2 = 0;
  const std::vector<uint8_t> got = read_rgb(out, &w2, &h2);
  ASSERT_EQ(got.size(), want.size());
  // Compilers may round the anti-aliased edges differently: allow 1 level.
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1) << "byte " << i;
}

}  // namespace
}  // namespace dsvl::test
