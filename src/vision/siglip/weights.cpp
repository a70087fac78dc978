// Checkpoint key table of the SigLIP tower (spec §2.1).
#include "vision/binder.h"
#include "vision/siglip/siglip.h"

namespace dsvl::vision::siglip {

Weights bind_weights(const io::SiglipConfig& c, const io::WeightStore& store,
                     const std::string& prefix, kernels::WeightArena* arena) {
  const Binder b(store, prefix, arena);
  const int64_t C = c.width, M = c.mlp_dim(), T = c.n_tokens(), p = c.patch_size;
  Weights w;
  w.precision = arena ? arena->precision() : kernels::Precision::kF32;
  w.patch_embed_proj_weight = b.matrix("patch_embed.proj.weight", {C, 3, p, p});
  w.patch_embed_proj_bias = b.view("patch_embed.proj.bias", {C});
  w.pos_embed = b.view("pos_embed", {1, T, C});
  for (int i = 0; i < c.layers; ++i) {
    const Binder k = b.sub("blocks." + std::to_string(i));
    BlockWeights bw;
    bw.norm1_weight = k.floats("norm1.weight", {C});
    bw.norm1_bias = k.floats("norm1.bias", {C});
    bw.attn_qkv_weight = k.matrix("attn.qkv.weight", {3 * C, C});
    bw.attn_qkv_bias = k.view("attn.qkv.bias", {3 * C});
    bw.attn_proj_weight = k.matrix("attn.proj.weight", {C, C});
    bw.attn_proj_bias = k.view("attn.proj.bias", {C});
    bw.norm2_weight = k.floats("norm2.weight", {C});
    bw.norm2_bias = k.floats("norm2.bias", {C});
    bw.mlp_fc1_weight = k.matrix("mlp.fc1.weight", {M, C});
    bw.mlp_fc1_bias = k.view("mlp.fc1.bias", {M});
    bw.mlp_fc2_weight = k.matrix("mlp.fc2.weight", {C, M});
    bw.mlp_fc2_bias = k.view("mlp.fc2.bias", {C});
    w.blocks.push_back(std::move(bw));
  }
  w.norm_weight = b.floats("norm.weight", {C});
  w.norm_bias = b.floats("norm.bias", {C});
  return w;
}

}  // namespace dsvl::vision::siglip
