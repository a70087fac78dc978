// torch's antialiased bilinear resize against a naive double-precision reference of the same
// formula (triangle filter stretched by the scale when shrinking, weights normalised, width
// pass then height pass). The kit's low_res_input goldens are checked in
// preprocess_golden_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "image/image.h"
#include "image/test_encoders.h"

namespace dsvl::image {
namespace {

// Weights of output index i over input indices [lo, lo + w.size()). The scale is torch's
// float32 in/out (2.6666667f for 1024 -> 384, not 8/3) and the filter centre is a float32 too:
// each alone moves results by ~1e-5. Everything else is double.
std::vector<double> ref_weights(int in, int out, int i, int* lo) {
  const double scale = double(float(in) / float(out));
  const double support = scale >= 1.0 ? scale : 1.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  const double center = double(float(scale * (i + 0.5)));
  *lo = std::max(int(center - support + 0.5), 0);
  const int hi = std::min(int(center + support + 0.5), in);
  std::vector<double> w;
  double sum = 0;
  for (int x = *lo; x < hi; ++x)
    sum += w.emplace_back(std::max(0.0, 1.0 - std::fabs((x - center + 0.5) * inv)));
  for (double& v : w) v /= sum;
  return w;
}

std::vector<double> ref_resize(const std::vector<float>& in, int n, int m, int channels) {
  std::vector<double> tmp(size_t(channels) * n * m), out(size_t(channels) * m * m);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < m; ++x) {
        int lo;
        const auto w = ref_weights(n, m, x, &lo);
        double acc = 0;
        for (size_t j = 0; j < w.size(); ++j) acc += in[(size_t(c) * n + y) * n + lo + j] * w[j];
        tmp[(size_t(c) * n + y) * m + x] = acc;
      }
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < m; ++y) {
      int lo;
      const auto w = ref_weights(n, m, y, &lo);
      for (int x = 0; x < m; ++x) {
        double acc = 0;
        for (size_t j = 0; j < w.size(); ++j) acc += tmp[(size_t(c) * n + lo + j) * m + x] * w[j];
        out[(size_t(c) * m + y) * m + x] = acc;
      }
    }
  return out;
}

TEST(BilinearAntialias, MatchesDoubleReference) {
  for (auto [n, m, ch] : {std::tuple{1024, 384, 3},
                          {384, 1024, 1},
                          {100, 37, 2},
                          {37, 100, 3},
                          {7, 3, 1},
                          {3, 7, 1},
                          {1, 5, 1},
                          {5, 1, 2},
                          {64, 64, 1},
                          {999, 383, 1}}) {
    const std::vector<uint8_t> bytes = test::noise_bytes(size_t(ch) * n * n, uint32_t(n + m));
    std::vector<float> in(bytes.size());
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(bytes[i]) / 255.0f;
    std::vector<float> got(size_t(ch) * m * m);
    resize_bilinear_antialias(in.data(), n, got.data(), m, ch);
    const std::vector<double> want = ref_resize(in, n, m, ch);
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    EXPECT_LE(worst, 1e-6) << n << " -> " << m << " x" << ch;
  }
}

TEST(BilinearAntialias, ConstantStaysConstant) {
  std::vector<float> in(3 * 50 * 50, 0.25f), out(3 * 17 * 17);
  resize_bilinear_antialias(in.data(), 50, out.data(), 17, 3);
  for (float v : out) EXPECT_NEAR(v, 0.25f, 1e-6f);
}

TEST(BilinearAntialias, RejectsBadSizes) {
  std::vector<float> in(4), out(4);
  EXPECT_THROW(resize_bilinear_antialias(in.data(), 0, out.data(), 2, 1), ShapeError);
}

}  // namespace
}  // namespace dsvl::image
