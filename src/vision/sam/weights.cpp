// Checkpoint key table of the SAM-B tower (spec §2.1).
#include <algorithm>

#include "core/error.h"
#include "vision/binder.h"
#include "vision/sam/sam.h"

namespace dsvl::vision::sam {
namespace {

NeckWeights bind_neck(const Binder& b, int64_t C, int64_t P) {
  NeckWeights n;
  n.conv0_weight = b.matrix("0.weight", {P, C, 1, 1});
  n.norm1_weight = b.floats("1.weight", {P});
  n.norm1_bias = b.floats("1.bias", {P});
  n.conv2_weight = b.matrix("2.weight", {P, P, 3, 3});
  n.norm3_weight = b.floats("3.weight", {P});
  n.norm3_bias = b.floats("3.bias", {P});
  return n;
}

}  // namespace

Weights bind_weights(const io::SamConfig& c, const io::WeightStore& store,
                     const std::string& prefix, kernels::WeightArena* arena) {
  const Binder b(store, prefix, arena);
  const int64_t C = c.width, G = c.grid(), d = c.head_dim(), p = c.patch_size;
  const int64_t F = int64_t(c.mlp_ratio) * C, P = c.prompt_embed_dim;
  const int64_t D0 = c.downsample_channels[0], D1 = c.downsample_channels[1];
  Weights w;
  w.precision = arena ? arena->precision() : kernels::Precision::kF32;
  w.patch_embed_proj_weight = b.matrix("patch_embed.proj.weight", {C, 3, p, p});
  w.patch_embed_proj_bias = b.view("patch_embed.proj.bias", {C});
  w.pos_embed = b.view("pos_embed", {1, G, G, C});
  for (int i = 0; i < c.layers; ++i) {
    const Binder k = b.sub("blocks." + std::to_string(i));
    const auto& g = c.global_attn_indexes;
    BlockWeights bw;
    bw.window = std::find(g.begin(), g.end(), i) != g.end() ? 0 : c.window_size;
    const int64_t S = bw.window > 0 ? bw.window : G;
    bw.norm1_weight = k.floats("norm1.weight", {C});
    bw.norm1_bias = k.floats("norm1.bias", {C});
    bw.attn_qkv_weight = k.matrix("attn.qkv.weight", {3 * C, C});
    bw.attn_qkv_bias = k.view("attn.qkv.bias", {3 * C});
    bw.attn_qkv_bias_f = k.floats("attn.qkv.bias", {3 * C});
    bw.attn_rel_pos_h = k.floats("attn.rel_pos_h", {2 * S - 1, d});
    bw.attn_rel_pos_w = k.floats("attn.rel_pos_w", {2 * S - 1, d});
    bw.attn_proj_weight = k.matrix("attn.proj.weight", {C, C});
    bw.attn_proj_bias = k.view("attn.proj.bias", {C});
    bw.norm2_weight = k.floats("norm2.weight", {C});
    bw.norm2_bias = k.floats("norm2.bias", {C});
    bw.mlp_lin1_weight = k.matrix("mlp.lin1.weight", {F, C});
    bw.mlp_lin1_bias = k.view("mlp.lin1.bias", {F});
    bw.mlp_lin2_weight = k.matrix("mlp.lin2.weight", {C, F});
    bw.mlp_lin2_bias = k.view("mlp.lin2.bias", {C});
    w.blocks.push_back(std::move(bw));
  }
  w.neck = bind_neck(b.sub("neck"), C, P);
  w.neck_hd = bind_neck(b.sub("neck_hd"), C, P);
  w.downsamples_0_weight = b.matrix("downsamples.0.weight", {D0, P, 3, 3});
  w.downsamples_1_weight = b.matrix("downsamples.1.weight", {D1, D0, 3, 3});
  w.hd_alpha_downsamples = b.floats("hd_alpha_downsamples", {1})[0];
  // The official forward collects every block with window_size == 0 and feeds the first.
  w.first_global = -1;
  for (int i = 0; i < c.layers && w.first_global < 0; ++i)
    if (w.blocks[size_t(i)].window == 0) w.first_global = i;
  if (w.first_global < 0)
    throw ConfigError(prefix + ": SAM needs at least one global-attention block for neck_hd");
  return w;
}

}  // namespace dsvl::vision::sam
