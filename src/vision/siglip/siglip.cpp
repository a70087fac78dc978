#include "vision/siglip/siglip.h"

#include <cmath>
#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "vision/common.h"

namespace dsvl::vision::siglip {

Scratch::Scratch(const io::SiglipConfig& c) {
  const size_t S = size_t(c.image_size), T = size_t(c.n_tokens()), C = size_t(c.width);
  const size_t p = size_t(c.patch_size);
  image.resize(3 * S * S);
  cols.resize(T * 3 * p * p);
  x.resize(T * C);
  xn.resize(T * C);
  qkv.resize(3 * T * C);
  attn.resize(T * C);
  tmp.resize(T * C);
  hidden.resize(T * size_t(c.mlp_dim()));
  task_stride = kernels::attention_scratch_floats(c.n_tokens(), c.head_dim());
  task.resize(size_t(task_stride) * size_t(num_threads()));
}

size_t Scratch::bytes() const {
  return sizeof(float) * (image.size() + cols.size() + x.size() + xn.size() + qkv.size() +
                          attn.size() + tmp.size() + hidden.size() + task.size());
}

// Standard multi-head self-attention over all T tokens, one task per head:
// o_h = softmax((q_h·d^-½)·k_hᵀ)·v_h, heads concatenated head-major, then proj.
void attention_forward(const BlockWeights& w, const io::SiglipConfig& c, Scratch& s,
                       kernels::Precision p) {
  const int64_t T = c.n_tokens(), C = c.width, d = c.head_dim(), H = c.heads;
  kernels::linear(s.xn.data(), T, w.attn_qkv_weight, &w.attn_qkv_bias, s.qkv.data(), p);
  const float scale = float(1.0 / std::sqrt(double(d)));
  parallel_tasks(H, [&](int tid, int64_t h) {
    const float* q = s.qkv.data() + h * d;
    kernels::attention_head(q, 3 * C, q + C, 3 * C, q + 2 * C, 3 * C, T, T, d, scale, nullptr,
                            s.attn.data() + h * d, C, s.task.data() + tid * s.task_stride, p);
  });
  kernels::linear(s.attn.data(), T, w.attn_proj_weight, &w.attn_proj_bias, s.tmp.data(), p);
}

// fc2(GELU(fc1(xn))) into s.tmp.
void mlp_forward(const BlockWeights& w, const io::SiglipConfig& c, Scratch& s,
                 kernels::Precision p) {
  const int64_t T = c.n_tokens();
  kernels::linear(s.xn.data(), T, w.mlp_fc1_weight, &w.mlp_fc1_bias, s.hidden.data(), p);
  kernels::gelu(s.hidden.data(), T * c.mlp_dim());
  kernels::linear(s.hidden.data(), T, w.mlp_fc2_weight, &w.mlp_fc2_bias, s.tmp.data(), p);
}

void block_forward(const BlockWeights& w, const io::SiglipConfig& c, Scratch& s,
                   kernels::Precision p) {
  const int64_t T = c.n_tokens(), C = c.width;
  kernels::layernorm(s.x.data(), T, C, w.norm1_weight.data(), w.norm1_bias.data(), c.ln_eps,
                     s.xn.data());
  attention_forward(w, c, s, p);
  add_inplace(s.x.data(), s.tmp.data(), T * C);
  kernels::layernorm(s.x.data(), T, C, w.norm2_weight.data(), w.norm2_bias.data(), c.ln_eps,
                     s.xn.data());
  mlp_forward(w, c, s, p);
  add_inplace(s.x.data(), s.tmp.data(), T * C);
}

void forward(const Weights& w, const io::SiglipConfig& c, const float* pixels, float* out,
             Scratch& s, DebugTaps* taps) {
  const int64_t T = c.n_tokens(), C = c.width;
  normalize_image(pixels, c.image_size, c.pixel_mean, c.pixel_std, s.image.data());
  patch_embed_forward(s.image.data(), c.image_size, c.patch_size, w.patch_embed_proj_weight,
                      w.patch_embed_proj_bias, s.cols.data(), s.x.data(), w.precision);
  add_view_inplace(s.x.data(), w.pos_embed);
  capture(taps, "siglip.x_after_pos", {1, T, C}, s.x.data());
  for (size_t i = 0; i < w.blocks.size(); ++i) {
    block_forward(w.blocks[i], c, s, w.precision);
    if (i == 0) capture(taps, "siglip.block0", {1, T, C}, s.x.data());
  }
  capture(taps, "siglip.pre_norm", {1, T, C}, s.x.data());
  kernels::layernorm(s.x.data(), T, C, w.norm_weight.data(), w.norm_bias.data(), c.ln_eps, out);
}

}  // namespace dsvl::vision::siglip
