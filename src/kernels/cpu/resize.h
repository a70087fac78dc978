// Plain bilinear resize of an NHWC float map with half-pixel centres (torch
// F.interpolate(mode="bilinear", align_corners=False, antialias=False) on float32): SAM's
// 64→96 neck upsample. Not antialiased — for downscaling images use the image pipeline's
// antialiased resize instead.
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// x: [H, W, C] → y: [OH, OW, C]. Multithreaded over output rows.
void resize_bilinear_nhwc(const float* x, int64_t H, int64_t W, int64_t C, float* y, int64_t OH,
                          int64_t OW);

// Naive reference: the same float32 source coordinates, double interpolation arithmetic.
void resize_bilinear_nhwc_ref(const float* x, int64_t H, int64_t W, int64_t C, float* y, int64_t OH,
                              int64_t OW);

}  // namespace dsvl::kernels
