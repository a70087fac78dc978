// Bad input never crashes, hangs or yields silent garbage: each case gives a dsvl::Error whose
// message names the file and says what is wrong.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "common/shared.h"
#include "core/error.h"
#include "image/image.h"
#include "image/test_encoders.h"

namespace dsvl::image {
namespace {

// Runs fn, expects an exception of type E whose message contains every piece.
template <typename E>
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& pieces) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning '" << pieces.front() << "'";
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& p : pieces)
      EXPECT_NE(msg.find(p), std::string::npos) << "message '" << msg << "' lacks '" << p << "'";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

void expect_memory_error(const std::vector<uint8_t>& bytes, const std::string& piece,
                         const DecodeLimits& limits = {}) {
  expect_error<IoError>([&] { decode_memory(bytes.data(), bytes.size(), "upload.bin", limits); },
                        {"upload.bin: ", piece});
}

std::vector<uint8_t> cut(std::vector<uint8_t> v, double fraction) {
  v.resize(size_t(double(v.size()) * fraction));
  return v;
}

std::vector<uint8_t> small_png() {
  test::PngSpec s;
  s.width = 40, s.height = 30, s.color_type = 2;
  const auto rgb = test::photo_like_rgb(40, 30, 1);
  s.samples.assign(rgb.begin(), rgb.end());
  return test::encode_png(s);
}

std::vector<uint8_t> small_jpeg(bool progressive) {
  test::JpegSpec s;
  s.width = 64, s.height = 48, s.progressive = progressive;
  s.pixels = test::photo_like_rgb(64, 48, 2);
  return test::encode_jpeg(s);
}

std::vector<uint8_t> small_webp() {
  return test::encode_webp(32, 24, test::photo_like_rgb(32, 24, 3), false, false);
}

std::vector<uint8_t> small_gif() {
  test::GifSpec s;
  s.screen_width = s.width = 30, s.screen_height = s.height = 20;
  s.global_palette = test::noise_bytes(256 * 3, 4);
  s.indices = test::noise_bytes(600, 5);
  return test::encode_gif(s);
}

std::vector<uint8_t> small_bmp() {
  test::BmpSpec s;
  s.width = 10, s.height = 6, s.bits = 24;
  s.pixels = test::noise_bytes(180, 6);
  return test::encode_bmp(s);
}

TEST(DecodeErrors, ZeroByteFile) {
  const std::string path = test::temp_dir("img") + "/empty.png";
  ASSERT_TRUE(test::write_file(path, {}));
  expect_error<IoError>([&] { decode_file(path); }, {path, "empty file"});
  expect_memory_error({}, "empty file");
}

TEST(DecodeErrors, UnreadablePaths) {
  const std::string dir = test::temp_dir("img");
  expect_error<IoError>([&] { decode_file(dir + "/missing.jpg"); },
                        {dir + "/missing.jpg", "cannot open", "No such file"});
  expect_error<IoError>([&] { decode_file(dir); }, {dir, "is a directory"});
  if (geteuid() != 0) {  // root reads anything
    const std::string locked = dir + "/locked.png";
    ASSERT_TRUE(test::write_file(locked, small_png()));
    ::chmod(locked.c_str(), 0);
    expect_error<IoError>([&] { decode_file(locked); }, {locked, "Permission denied"});
  }
}

TEST(DecodeErrors, TextFile) {
  const std::string text = "Hello, this is a note.\nNot an image at all.\n";
  const std::string path = test::temp_dir("img") + "/notes.jpg";
  ASSERT_TRUE(test::write_file(path, std::vector<uint8_t>(text.begin(), text.end())));
  expect_error<IoError>([&] { decode_file(path); }, {path, "looks like text"});
  const std::string svg = "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>";
  expect_memory_error(std::vector<uint8_t>(svg.begin(), svg.end()), "looks like text");
}

TEST(DecodeErrors, UnsupportedFormats) {
  expect_memory_error({'I', 'I', '*', 0, 8, 0, 0, 0, 1, 2, 3}, "unsupported image format: TIFF");
  expect_memory_error({0, 0, 0, 0x1c, 'f', 't', 'y', 'p', 'a', 'v', 'i', 'f', 0, 0}, "AVIF");
  expect_memory_error({0, 1, 2, 3, 0xfe, 0x80, 0x81, 0x99}, "unrecognised image format");
  // A recognised container with a feature we do not decode.
  auto bmp = small_bmp();
  bmp[30] = 1;  // BI_RLE8
  expect_memory_error(bmp, "unsupported BMP compression");
  bmp = small_bmp();
  bmp[28] = 7;  // 7 bits per pixel
  expect_memory_error(bmp, "unsupported BMP pixel depth");
}

TEST(DecodeErrors, Truncated) {
  const std::vector<std::pair<const char*, std::vector<uint8_t>>> files = {
      {"PNG", small_png()},   {"JPEG", small_jpeg(false)}, {"JPEG", small_jpeg(true)},
      {"WebP", small_webp()}, {"GIF", small_gif()},        {"BMP", small_bmp()},
  };
  for (const auto& [format, bytes] : files) {
    SCOPED_TRACE(format);
    for (double f : {0.1, 0.5, 0.9}) expect_memory_error(cut(bytes, f), "truncated");
    expect_memory_error(cut(bytes, 0.0001 + 4.0 / double(bytes.size())), "truncated");
  }
}

TEST(DecodeErrors, JpegWithoutEoiStillDecodes) {
  // Pillow decodes a baseline JPEG whose final EOI marker is missing; so do we.
  auto jpg = small_jpeg(false);
  jpg.resize(jpg.size() - 2);
  const RgbImage img = decode_memory(jpg.data(), jpg.size(), "no_eoi.jpg");
  EXPECT_EQ(img.width, 64);
}

TEST(DecodeErrors, Corrupt) {
  auto png = small_png();
  png[png.size() / 2] ^= 0x55;  // inside IDAT: CRC mismatch
  expect_memory_error(png, "corrupt PNG");
  png = small_png();
  png[16] = 0x80;  // IHDR width > 2^31
  expect_memory_error(png, "corrupt PNG");

  expect_memory_error({0xff, 0xd8, 0xff, 0xe0, 0, 2, 0xff, 0xc0, 0, 3, 1, 2, 3, 4, 5, 6, 7},
                      "JPEG");
  auto jpg = small_jpeg(false);
  for (size_t i = 0; i + 1 < jpg.size(); ++i)
    if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) jpg[i + 9] = 0;  // SOF: zero components
  expect_memory_error(jpg, "corrupt JPEG");

  auto webp = small_webp();
  for (size_t i = 20; i < 40 && i < webp.size(); ++i) webp[i] = 0xAA;  // VP8 frame header
  expect_memory_error(webp, "WebP");

  auto gif = small_gif();
  gif[13 + 256 * 3 + 10] = 0xFF;  // after the screen, palette and image descriptor: LZW code size
  expect_memory_error(gif, "corrupt GIF");
}

TEST(DecodeErrors, TooManyProgressiveScans) {
  // Repeat the last scan of a progressive JPEG 600 times: libjpeg only warns about the bogus
  // progression, so without a limit this is the classic slow-decode input.
  const auto jpg = small_jpeg(true);
  size_t last_sos = 0;
  for (size_t i = 0; i + 1 < jpg.size(); ++i)
    if (jpg[i] == 0xff && jpg[i + 1] == 0xda) last_sos = i;
  ASSERT_GT(last_sos, 0u);
  std::vector<uint8_t> bomb(jpg.begin(), jpg.begin() + int64_t(last_sos));
  for (int r = 0; r < 600; ++r)
    bomb.insert(bomb.end(), jpg.begin() + int64_t(last_sos), jpg.end() - 2);
  bomb.insert(bomb.end(), {0xff, 0xd9});
  expect_memory_error(bomb, "progressive scans");
}

TEST(DecodeErrors, TooManyPixelsRefusedFromHeader) {
  // A PNG claiming 100000 x 100000 with no pixel data: the limit fires before any decoding.
  auto png = small_png();
  for (int i : {16, 20})
    png[size_t(i)] = 0, png[size_t(i) + 1] = 1, png[size_t(i) + 2] = 0x86,
    png[size_t(i) + 3] = 0xa0;
  png.resize(33);  // signature + IHDR only (its CRC is now wrong; libpng checks it first)
  // Fix the IHDR CRC so only the size is at fault.
  uint32_t crc = 0xffffffffu;
  for (size_t i = 12; i < 29; ++i) {
    crc ^= png[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  crc ^= 0xffffffffu;
  for (int k = 0; k < 4; ++k) png[size_t(29 + k)] = uint8_t(crc >> (24 - 8 * k));
  expect_error<LimitError>([&] { decode_memory(png.data(), png.size(), "huge.png"); },
                           {"huge.png", "100000x100000", "64000000"});

  // Every format honours a caller's limit.
  const DecodeLimits tiny{50};  // every small_* image has more pixels
  for (const auto& bytes : {small_png(), small_jpeg(false), small_webp(), small_gif(), small_bmp()})
    expect_error<LimitError>([&] { decode_memory(bytes.data(), bytes.size(), "x.img", tiny); },
                             {"x.img", "more than the limit of 50 pixels"});
}

// Every truncation and a few hundred byte flips of small files of each format: the decoder
// either returns a well-formed image or throws dsvl::Error. Run under ASan in CI.
TEST(DecodeErrors, RobustToDamage) {
  const std::vector<std::vector<uint8_t>> files = {
      small_png(), small_jpeg(false), small_jpeg(true), small_webp(), small_gif(), small_bmp()};
  int decoded = 0, refused = 0;
  auto attempt = [&](const std::vector<uint8_t>& bytes) {
    try {
      const RgbImage img = decode_memory(bytes.data(), bytes.size(), "fuzz");
      ASSERT_EQ(img.rgb.size(), size_t(img.width) * img.height * 3);
      ++decoded;
    } catch (const Error&) {
      ++refused;
    }
  };
  for (const auto& f : files) {
    const size_t step = std::max<size_t>(1, f.size() / 97);
    for (size_t n = 0; n < f.size(); n += step)
      attempt(std::vector<uint8_t>(f.begin(), f.begin() + int64_t(n)));
    const std::vector<uint8_t> noise = test::noise_bytes(400 * 3, uint32_t(f.size()));
    for (int t = 0; t < 400; ++t) {
      std::vector<uint8_t> g = f;
      const size_t at = (size_t(noise[3 * t]) << 8 | noise[3 * t + 1]) % g.size();
      g[at] ^= uint8_t(noise[3 * t + 2] | 1);
      attempt(g);
    }
  }
  EXPECT_GT(decoded, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace dsvl::image
