// Property tests of the Pillow-bicubic resize and the whole processor on synthetic sizes,
// against a naive reference written here from Pillow 9.4's Resample.c: weights computed per
// output pixel in double, 22-bit fixed point, horizontal pass into 8 bits over every row, then
// the vertical pass. No tables shared with src/image, no threading, no row windowing.
//
// Like Pillow's own (baseline x86-64) build, the reference must not fuse multiply-adds.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "image/resize_bicubic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "image/image.h"
#include "image/test_encoders.h"

namespace dsvl::image {
namespace {

double ref_cubic(double x) {
  const double a = -0.5;
  const double ax = std::fabs(x);
  if (ax < 1.0) return ((a + 2.0) * ax - (a + 3.0)) * ax * ax + 1;
  if (ax < 2.0) return (((ax - 5) * ax + 8) * ax - 4) * a;
  return 0.0;
}

// Fixed-point taps of output index i: (first input index, weights).
std::pair<int, std::vector<int>> ref_taps(int in, int out, int i) {
  const double scale = double(in) / out;
  const double fscale = std::max(scale, 1.0);
  const double support = 2.0 * fscale;
  const double center = (i + 0.5) * scale;
  const int lo = std::max(int(center - support + 0.5), 0);
  const int hi = std::min(int(center + support + 0.5), in);
  std::vector<double> w;
  double sum = 0;
  for (int x = lo; x < hi; ++x) {
    w.push_back(ref_cubic((x - center + 0.5) * (1.0 / fscale)));
    sum += w.back();
  }
  std::vector<int> fixed;
  for (double v : w) {
    if (sum != 0.0) v /= sum;
    fixed.push_back(int(v < 0 ? -0.5 + v * 4194304.0 : 0.5 + v * 4194304.0));
  }
  return {lo, fixed};
}

uint8_t ref_clip(int acc) { return uint8_t(std::clamp(acc >> 22, 0, 255)); }

// Reference resize of an interleaved RGB image.
std::vector<uint8_t> ref_resize(const std::vector<uint8_t>& in, int w, int h, int ow, int oh) {
  std::vector<uint8_t> cur = in;
  int cw = w;
  if (ow != w) {
    std::vector<uint8_t> next(size_t(ow) * h * 3);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < ow; ++x) {
        const auto [lo, k] = ref_taps(w, ow, x);
        for (int c = 0; c < 3; ++c) {
          int acc = 1 << 21;
          for (size_t j = 0; j < k.size(); ++j) acc += cur[(size_t(y) * w + lo + j) * 3 + c] * k[j];
          next[(size_t(y) * ow + x) * 3 + c] = ref_clip(acc);
        }
      }
    cur.swap(next);
    cw = ow;
  }
  if (oh != h) {
    std::vector<uint8_t> next(size_t(cw) * oh * 3);
    for (int y = 0; y < oh; ++y) {
      const auto [lo, k] = ref_taps(h, oh, y);
      for (int x = 0; x < cw; ++x)
        for (int c = 0; c < 3; ++c) {
          int acc = 1 << 21;
          for (size_t j = 0; j < k.size(); ++j)
            acc += cur[((lo + j) * size_t(cw) + x) * 3 + c] * k[j];
          next[(size_t(y) * cw + x) * 3 + c] = ref_clip(acc);
        }
    }
    cur.swap(next);
  }
  return cur;
}

RgbImage noise_image(int w, int h, uint32_t seed) {
  // Half pure noise (stresses every weight), half smooth (typical photos).
  RgbImage img{
      w, h,
      seed % 2 ? test::noise_bytes(size_t(w) * h * 3, seed) : test::photo_like_rgb(w, h, seed)};
  return img;
}

size_t count_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

struct ResizeCase {
  int w, h, ow, oh;
};

class BicubicVsReference : public ::testing::TestWithParam<ResizeCase> {};

TEST_P(BicubicVsReference, Exact) {
  const ResizeCase c = GetParam();
  const RgbImage img = noise_image(c.w, c.h, uint32_t(c.w * 31 + c.h * 7 + c.ow + c.oh));
  const RgbImage got = resize_bicubic(img, c.ow, c.oh);
  ASSERT_EQ(got.width, c.ow);
  ASSERT_EQ(got.height, c.oh);
  const std::vector<uint8_t> want = ref_resize(img.rgb, c.w, c.h, c.ow, c.oh);
  EXPECT_EQ(count_diff(got.rgb, want), 0u) << c.w << "x" << c.h << " -> " << c.ow << "x" << c.oh;
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, BicubicVsReference,
    ::testing::Values(ResizeCase{1, 1, 1, 1}, ResizeCase{1, 1, 384, 384}, ResizeCase{1, 1, 7, 3},
                      ResizeCase{2, 1, 1, 1}, ResizeCase{13, 2000, 14, 1024},
                      ResizeCase{2000, 13, 1024, 14}, ResizeCase{13, 2000, 14, 384},
                      ResizeCase{7, 5, 1024, 731}, ResizeCase{64, 48, 33, 17},
                      ResizeCase{64, 48, 64, 17}, ResizeCase{64, 48, 33, 48},
                      ResizeCase{333, 517, 659, 1024}, ResizeCase{517, 333, 384, 247},
                      ResizeCase{1000, 999, 384, 383}, ResizeCase{999, 1000, 1024, 1025},
                      ResizeCase{640, 480, 1024, 768}, ResizeCase{100, 3, 1024, 30},
                      ResizeCase{15, 16, 16, 15}, ResizeCase{300, 300, 299, 301}),
    [](const auto& info) {
      const ResizeCase& c = info.param;
      return std::to_string(c.w) + "x" + std::to_string(c.h) + "_to_" + std::to_string(c.ow) + "x" +
             std::to_string(c.oh);
    });

// Fixed-point weights of every output index sum to 1.0 within rounding, and the tap windows
// stay inside the input.
TEST(BicubicCoeffs, WellFormed) {
  for (auto [in, out] : {std::pair{1, 1},
                         {1, 1024},
                         {13, 14},
                         {2000, 1024},
                         {766, 1024},
                         {1400, 384},
                         {5, 3},
                         {4096, 384}}) {
    const detail::BicubicCoeffs c = detail::bicubic_coeffs(in, out);
    for (int i = 0; i < out; ++i) {
      ASSERT_GE(c.xmin[size_t(i)], 0);
      ASSERT_LE(c.xmin[size_t(i)] + c.count[size_t(i)], in);
      ASSERT_LE(c.count[size_t(i)], c.ksize);
      int64_t sum = 0;
      for (int j = 0; j < c.ksize; ++j) sum += c.k[size_t(i) * c.ksize + j];
      EXPECT_NEAR(double(sum), double(1 << 22), double(c.ksize)) << in << "->" << out << " i=" << i;
    }
  }
}

// Pure double arithmetic (no fixed point) may differ from Pillow's integers by rounding only.
TEST(Bicubic, CloseToRealArithmetic) {
  const int w = 97, h = 61, ow = 40, oh = 131;
  const RgbImage img = noise_image(w, h, 77);
  const RgbImage got = resize_bicubic(img, ow, oh);
  // Horizontal pass in double, rounded to 8 bits (Pillow keeps an 8-bit intermediate).
  auto weights = [](int in, int out, int i, int* lo) {
    const double scale = double(in) / out, fs = std::max(scale, 1.0), center = (i + 0.5) * scale;
    *lo = std::max(int(center - 2 * fs + 0.5), 0);
    const int hi = std::min(int(center + 2 * fs + 0.5), in);
    std::vector<double> k;
    double s = 0;
    for (int x = *lo; x < hi; ++x) s += k.emplace_back(ref_cubic((x - center + 0.5) / fs));
    for (double& v : k) v /= s;
    return k;
  };
  std::vector<uint8_t> mid(size_t(ow) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < ow; ++x) {
      int lo;
      const auto k = weights(w, ow, x, &lo);
      for (int c = 0; c < 3; ++c) {
        double acc = 0;
        for (size_t j = 0; j < k.size(); ++j)
          acc += img.rgb[(size_t(y) * w + lo + j) * 3 + c] * k[j];
        mid[(size_t(y) * ow + x) * 3 + c] = uint8_t(std::clamp(std::floor(acc + 0.5), 0.0, 255.0));
      }
    }
  int worst = 0;
  for (int y = 0; y < oh; ++y) {
    int lo;
    const auto k = weights(h, oh, y, &lo);
    for (int x = 0; x < ow * 3; ++x) {
      double acc = 0;
      for (size_t j = 0; j < k.size(); ++j) acc += mid[(lo + j) * size_t(ow) * 3 + x] * k[j];
      const int v = int(std::clamp(std::floor(acc + 0.5), 0.0, 255.0));
      worst = std::max(worst, std::abs(v - got.rgb[size_t(y) * ow * 3 + x]));
    }
  }
  EXPECT_LE(worst, 1);
}

// The whole processor on synthetic sizes against reference resize + expand2square.
TEST(Preprocess, SyntheticSizesMatchReference) {
  const int sizes[][2] = {{1, 1},     {13, 2000},   {2000, 13},   {2, 3},     {3, 2},    {14, 14},
                          {15, 1000}, {1023, 1024}, {1025, 1024}, {384, 384}, {385, 200}};
  for (int S : {384, 1024}) {
    PreprocessConfig cfg;
    cfg.image_size = S;
    cfg.image_mean = S == 1024 ? kClipMean : kSiglipMean;
    const uint8_t bg[3] = {uint8_t(S == 1024 ? 122 : 127), uint8_t(S == 1024 ? 116 : 127),
                           uint8_t(S == 1024 ? 104 : 127)};
    for (const auto& wh : sizes) {
      const int w = wh[0], h = wh[1];
      const RgbImage img = noise_image(w, h, uint32_t(w + 3 * h + S));
      const int m = std::max(w, h);
      const int rw = std::max(int(double(w) / m * S), 14),
                rh = std::max(int(double(h) / m * S), 14);
      const std::vector<uint8_t> r = ref_resize(img.rgb, w, h, rw, rh);
      const int side = std::max(rw, rh), x0 = (side - rw) / 2, y0 = (side - rh) / 2;
      ASSERT_EQ(side, S);
      std::vector<uint8_t> want(size_t(3) * S * S);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < S; ++y)
          for (int x = 0; x < S; ++x) {
            const bool in = x >= x0 && x < x0 + rw && y >= y0 && y < y0 + rh;
            want[(size_t(c) * S + y) * S + x] =
                in ? r[(size_t(y - y0) * rw + (x - x0)) * 3 + c] : bg[c];
          }
      EXPECT_EQ(count_diff(preprocess_u8(img, cfg), want), 0u) << w << "x" << h << " at " << S;
    }
  }
}

}  // namespace
}  // namespace dsvl::image
