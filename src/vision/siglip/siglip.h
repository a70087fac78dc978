// SigLIP-L/16 ViT as DeepSeek-VL builds it from timm ("siglip_large_patch16_384", spec §3.4):
// patch conv + pos_embed, pre-norm blocks (LN → MHA → residual, LN → fc1 → GELU(erf) → fc2 →
// residual), final LayerNorm `norm` (applied); no class token, no attention-pool head.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/cpu/weight_arena.h"
#include "vision/vision.h"

namespace dsvl::vision::siglip {

// blocks.{i}.*  Field names follow the checkpoint keys.
struct BlockWeights {
  std::vector<float> norm1_weight, norm1_bias;  // [C]
  TensorView attn_qkv_weight, attn_qkv_bias;    // [3C, C], [3C]: rows q | k | v
  TensorView attn_proj_weight, attn_proj_bias;  // [C, C], [C]
  std::vector<float> norm2_weight, norm2_bias;  // [C]
  TensorView mlp_fc1_weight, mlp_fc1_bias;      // [M, C], [M]
  TensorView mlp_fc2_weight, mlp_fc2_bias;      // [C, M], [C]
};

struct Weights {
  TensorView patch_embed_proj_weight, patch_embed_proj_bias;  // [C, 3, 16, 16], [C]
  TensorView pos_embed;                                       // [1, T, C]
  std::vector<BlockWeights> blocks;
  std::vector<float> norm_weight, norm_bias;                // final LayerNorm [C]
  kernels::Precision precision = kernels::Precision::kF32;  // of the GEMMs (the arena's)
};

// Binds `prefix` + keys above (prefix e.g. "vision_model.vision_tower."). attn_pool.* is
// deliberately not bound. The GEMM matrices go through `arena` (null: as stored, float32).
Weights bind_weights(const io::SiglipConfig& c, const io::WeightStore& store,
                     const std::string& prefix, kernels::WeightArena* arena = nullptr);

// Activations of one image, sized once per encode() call.
struct Scratch {
  std::vector<float> image;   // [3, S, S] normalised
  std::vector<float> cols;    // [T, 3·p²] patch im2col
  std::vector<float> x;       // [T, C] residual stream
  std::vector<float> xn;      // [T, C] LayerNorm output
  std::vector<float> qkv;     // [T, 3C]
  std::vector<float> attn;    // [T, C] heads concatenated
  std::vector<float> tmp;     // [T, C] branch output before the residual add
  std::vector<float> hidden;  // [T, M] MLP hidden
  std::vector<float> task;    // per-thread attention scratch
  int64_t task_stride = 0;
  explicit Scratch(const io::SiglipConfig& c);
  size_t bytes() const;
};

// `p`: precision of the linear layers (attention itself and the norms stay float32).
void attention_forward(const BlockWeights& w, const io::SiglipConfig& c, Scratch& s,
                       kernels::Precision p);
void mlp_forward(const BlockWeights& w, const io::SiglipConfig& c, Scratch& s,
                 kernels::Precision p);
// x ← x + attn(norm1(x)); x ← x + mlp(norm2(x)), on s.x.
void block_forward(const BlockWeights& w, const io::SiglipConfig& c, Scratch& s,
                   kernels::Precision p);

// One image: pixels [3, S, S] in [0, 1] → out [T, C] (after the final norm). Debug taps
// siglip.x_after_pos, siglip.block0, siglip.pre_norm go to `taps` when non-null.
void forward(const Weights& w, const io::SiglipConfig& c, const float* pixels, float* out,
             Scratch& s, DebugTaps* taps);

}  // namespace dsvl::vision::siglip
