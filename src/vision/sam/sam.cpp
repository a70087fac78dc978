#include "vision/sam/sam.h"

#include <algorithm>
#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/resize.h"
#include "vision/common.h"

namespace dsvl::vision::sam {
namespace {

// Largest im2col any neck/downsample conv or the patch embedding needs.
int64_t max_cols_floats(const io::SamConfig& c) {
  const int64_t G = c.grid(), P = c.prompt_embed_dim, R = kNeckResize;
  const int64_t D0 = c.downsample_channels[0], D1 = c.downsample_channels[1];
  const kernels::Conv2dShape neck3{G, G, P, P, 3, 1, 1}, d0{R, R, P, D0, 3, 2, 1};
  const kernels::Conv2dShape d1{d0.OH(), d0.OW(), D0, D1, 3, 2, 1};
  const int64_t patch = G * G * 3 * int64_t(c.patch_size) * c.patch_size;
  return std::max({patch, kernels::conv2d_scratch_floats(neck3), kernels::conv2d_scratch_floats(d0),
                   kernels::conv2d_scratch_floats(d1)});
}

static_assert(((kNeckResize + 1) / 2 + 1) / 2 == kOutSide, "two stride-2 convs: 96 → 48 → 24");

}  // namespace

Scratch::Scratch(const io::SamConfig& c) {
  const size_t S = size_t(c.image_size), G2 = size_t(c.grid()) * size_t(c.grid());
  const size_t C = size_t(c.width), P = size_t(c.prompt_embed_dim), R = size_t(kNeckResize);
  const size_t D0 = size_t(c.downsample_channels[0]), D1 = size_t(c.downsample_channels[1]);
  const size_t O = size_t(kOutSide);
  image.resize(3 * S * S);
  x.resize(G2 * C);
  xn.resize(G2 * C);
  big.resize(std::max({G2 * C * size_t(std::max(3, c.mlp_ratio)), size_t(max_cols_floats(c))}));
  attn.resize(G2 * C);
  tmp.resize(G2 * C);
  hd_in.resize(G2 * C);
  neck_a.resize(G2 * P);
  neck_b.resize(G2 * P);
  interp.resize(R * R * P);
  down0.resize(((R + 1) / 2) * ((R + 1) / 2) * D0);
  main.resize(O * O * D1);
  hd.resize(O * O * D1);
  task_stride = attention_task_floats(c);
  task.resize(size_t(task_stride) * size_t(num_threads()));
}

size_t Scratch::bytes() const {
  size_t n = 0;
  for (const auto* v : {&image, &x, &xn, &big, &attn, &tmp, &hd_in, &neck_a, &neck_b, &interp,
                        &down0, &main, &hd, &task})
    n += v->size();
  return n * sizeof(float);
}

// neck (or neck_hd) → 64→96 bilinear → downsamples: x [G², C] → out [24², D1].
void neck_path(const Weights& w, const NeckWeights& neck, const io::SamConfig& c, const float* x,
               float* out, Scratch& s, DebugTaps* taps) {
  const int64_t G = c.grid(), P = c.prompt_embed_dim, R = kNeckResize;
  neck_forward(neck, c, x, s.neck_a.data(), s.neck_b.data(), s.big.data(), w.precision);
  capture_nchw(taps, "sam.neck", s.neck_a.data(), G, G, P);
  kernels::resize_bilinear_nhwc(s.neck_a.data(), G, G, P, s.interp.data(), R, R);
  capture_nchw(taps, "sam.neck_interp", s.interp.data(), R, R, P);
  downsamples_forward(w, c, s.interp.data(), out, s.down0.data(), s.big.data(), w.precision);
}

void forward(const Weights& w, const io::SamConfig& c, const float* pixels, float* out, Scratch& s,
             DebugTaps* taps) {
  const int64_t G = c.grid(), C = c.width, O = kOutSide;
  const int64_t D1 = c.downsample_channels[1];
  normalize_image(pixels, c.image_size, c.pixel_mean, c.pixel_std, s.image.data());
  patch_embed_forward(s.image.data(), c.image_size, c.patch_size, w.patch_embed_proj_weight,
                      w.patch_embed_proj_bias, s.big.data(), s.x.data(), w.precision);
  add_view_inplace(s.x.data(), w.pos_embed);
  capture(taps, "sam.x_after_pos", {1, G, G, C}, s.x.data());
  for (size_t i = 0; i < w.blocks.size(); ++i) {
    block_forward(w.blocks[i], c, s, w.precision);
    if (i == 0 || int(i) == w.first_global)
      capture(taps, "sam.block" + std::to_string(i), {1, G, G, C}, s.x.data());
    if (int(i) == w.first_global) std::copy(s.x.begin(), s.x.end(), s.hd_in.begin());
  }
  neck_path(w, w.neck, c, s.x.data(), s.main.data(), s, taps);
  capture_nchw(taps, "sam.main", s.main.data(), O, O, D1);
  neck_path(w, w.neck_hd, c, s.hd_in.data(), s.hd.data(), s, nullptr);
  capture_nchw(taps, "sam.hd", s.hd.data(), O, O, D1);
  // out = main + hd·alpha, written NCHW [D1, 24, 24].
  const float alpha = w.hd_alpha_downsamples;
  for (int64_t i = 0; i < O * O; ++i)
    for (int64_t ch = 0; ch < D1; ++ch)
      out[ch * O * O + i] = s.main[size_t(i * D1 + ch)] + s.hd[size_t(i * D1 + ch)] * alpha;
}

}  // namespace dsvl::vision::sam
