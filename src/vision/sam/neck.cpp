// The downsampling neck of DeepSeek-VL's SAM (spec §3.3): neck / neck_hd, the float32 64→96
// bilinear resize, and the two stride-2 convs shared by both paths (no bias, no activation).
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/layernorm.h"
#include "vision/sam/sam.h"

namespace dsvl::vision::sam {

void neck_forward(const NeckWeights& w, const io::SamConfig& c, const float* x, float* out,
                  float* tmp, float* cols, kernels::Precision p) {
  const int64_t G = c.grid(), C = c.width, P = c.prompt_embed_dim;
  // LayerNorm2d normalises over channels at each pixel = LayerNorm of the NHWC rows.
  kernels::conv2d_nhwc(x, {G, G, C, P, 1, 1, 0}, w.conv0_weight, nullptr, tmp, cols, p);
  kernels::layernorm(tmp, G * G, P, w.norm1_weight.data(), w.norm1_bias.data(), c.ln_eps, tmp);
  kernels::conv2d_nhwc(tmp, {G, G, P, P, 3, 1, 1}, w.conv2_weight, nullptr, out, cols, p);
  kernels::layernorm(out, G * G, P, w.norm3_weight.data(), w.norm3_bias.data(), c.ln_eps, out);
}

void downsamples_forward(const Weights& w, const io::SamConfig& c, const float* x, float* out,
                         float* mid, float* cols, kernels::Precision p) {
  const int64_t R = kNeckResize, P = c.prompt_embed_dim;
  const int64_t D0 = c.downsample_channels[0], D1 = c.downsample_channels[1];
  const kernels::Conv2dShape s0{R, R, P, D0, 3, 2, 1};
  kernels::conv2d_nhwc(x, s0, w.downsamples_0_weight, nullptr, mid, cols, p);
  kernels::conv2d_nhwc(mid, {s0.OH(), s0.OW(), D0, D1, 3, 2, 1}, w.downsamples_1_weight, nullptr,
                       out, cols, p);
}

}  // namespace dsvl::vision::sam
