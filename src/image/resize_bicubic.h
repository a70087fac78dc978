// Pieces of the Pillow bicubic resize (resize_bicubic.cpp), exposed for tests and benchmarks.
// Callers normally use image::resize_bicubic from image/image.h.
#pragma once

#include <cstdint>
#include <vector>

namespace dsvl::image::detail {

// Per output index: the first input index, how many inputs it reads, and their 22-bit
// fixed-point weights (row xx of k, ksize entries, zero past count).
struct BicubicCoeffs {
  int ksize = 0;
  std::vector<int> xmin, count;
  std::vector<int32_t> k;
};

// Pillow precompute_coeffs + normalize_coeffs_8bpc for BICUBIC, box = the whole input.
BicubicCoeffs bicubic_coeffs(int in_size, int out_size);

// One pass over interleaved RGB rows (out rows = `rows` input rows, resampled along x).
void bicubic_horizontal(const uint8_t* in, int in_w, uint8_t* out, int out_w, int rows,
                        const BicubicCoeffs& c);
// Resamples along y; `c` indexes rows of `in` directly.
void bicubic_vertical(const uint8_t* in, int width, uint8_t* out, int out_h,
                      const BicubicCoeffs& c);

}  // namespace dsvl::image::detail
