// SAM-B ViTDet image encoder with DeepSeek-VL's downsampling neck ("sam_b_downsample",
// spec §3.3): 16×16 patch conv + pos_embed on a 64×64 grid; pre-norm blocks with windowed
// (14×14, zero-padded to 70×70, unmasked) or global attention, both with decomposed relative
// positions on the unscaled q; a conv neck; a 64→96 bilinear upsample; two stride-2 convs.
// The output of the first global block feeds a second neck (neck_hd) through the same
// resize and downsample convs, scaled by hd_alpha_downsamples and added to the main path.
// Maps are NHWC [H·W, C] throughout.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/cpu/weight_arena.h"
#include "vision/vision.h"

namespace dsvl::vision::sam {

// blocks.{i}.*  Field names follow the checkpoint keys.
struct BlockWeights {
  std::vector<float> norm1_weight, norm1_bias;        // [C]
  TensorView attn_qkv_weight, attn_qkv_bias;          // [3C, C], [3C]: rows q | k | v
  std::vector<float> attn_qkv_bias_f;                 // the bias widened: q/k/v of padded tokens
  std::vector<float> attn_rel_pos_h, attn_rel_pos_w;  // [2S−1, d], S = window or grid side
  TensorView attn_proj_weight, attn_proj_bias;        // [C, C], [C]
  std::vector<float> norm2_weight, norm2_bias;        // [C]
  TensorView mlp_lin1_weight, mlp_lin1_bias;          // [4C, C], [4C]
  TensorView mlp_lin2_weight, mlp_lin2_bias;          // [C, 4C], [C]
  int window = 0;                                     // 0: global attention
};

// neck.{0..3} / neck_hd.{0..3}: conv1x1 (no bias) → LayerNorm2d → conv3x3 pad 1 (no bias) →
// LayerNorm2d.
struct NeckWeights {
  TensorView conv0_weight;                      // .0.weight [P, C, 1, 1]
  std::vector<float> norm1_weight, norm1_bias;  // .1.{weight,bias} [P]
  TensorView conv2_weight;                      // .2.weight [P, P, 3, 3]
  std::vector<float> norm3_weight, norm3_bias;  // .3.{weight,bias} [P]
};

struct Weights {
  TensorView patch_embed_proj_weight, patch_embed_proj_bias;  // [C, 3, 16, 16], [C]
  TensorView pos_embed;                                       // [1, 64, 64, C] NHWC
  std::vector<BlockWeights> blocks;
  NeckWeights neck, neck_hd;
  TensorView downsamples_0_weight;                          // [D0, P, 3, 3] stride 2, no bias
  TensorView downsamples_1_weight;                          // [D1, D0, 3, 3] stride 2, no bias
  float hd_alpha_downsamples = 0;                           // scalar gate of the hd path
  int first_global = 0;                                     // block whose output feeds neck_hd
  kernels::Precision precision = kernels::Precision::kF32;  // of the GEMMs (the arena's)
};

// Binds `prefix` + keys above (prefix e.g. "vision_model.vision_tower_high.vision_tower.").
// Rel-pos tables must have exactly 2S−1 rows (the official code would interpolate others; with
// the fixed 1024 input that never happens, so other lengths are rejected).
// The GEMM matrices (linears and convs) go through `arena` (null: as stored, float32).
Weights bind_weights(const io::SamConfig& c, const io::WeightStore& store,
                     const std::string& prefix, kernels::WeightArena* arena = nullptr);

// Side length of the neck's bilinear resize target (hard-coded 96 in the official code).
constexpr int64_t kNeckResize = 96;
// Side of the output map: 96 → 48 → 24 through the two stride-2 convs (576 tokens).
constexpr int64_t kOutSide = 24;

// Activations of one image, sized once per encode() call.
struct Scratch {
  std::vector<float> image;           // [3, 1024, 1024] normalised
  std::vector<float> x;               // [G², C] residual stream, G = 64
  std::vector<float> xn;              // [G², C] LayerNorm output
  std::vector<float> big;             // [G², 4C]: qkv [G², 3C] in attention, hidden in the MLP,
                                      // patch im2col, neck im2col
  std::vector<float> attn;            // [G², C] heads concatenated
  std::vector<float> tmp;             // [G², C] branch output before the residual add
  std::vector<float> hd_in;           // [G², C] output of the first global block
  std::vector<float> neck_a, neck_b;  // [G², P]
  std::vector<float> interp;          // [96², P]
  std::vector<float> down0;           // [48², D0]
  std::vector<float> main, hd;        // [24², D1]
  std::vector<float> task;            // per-thread attention scratch
  int64_t task_stride = 0;
  explicit Scratch(const io::SamConfig& c);
  size_t bytes() const;
};

// Floats one thread needs for one (window or global, head) attention task.
int64_t attention_task_floats(const io::SamConfig& c);

// rel_h[i, ky] = q_i·table_h[qy − ky + S − 1], rel_w[i, kx] = q_i·table_w[qx − kx + S − 1] for
// the S×S queries i = qy·S + qx (rows ldq apart) of one head; tables [2S−1, d]; tmp: S² floats.
void decomposed_rel_pos(const float* q, int64_t ldq, int64_t S, int64_t d, const float* table_h,
                        const float* table_w, float* rel_h, float* rel_w, float* tmp);

// Attention of one block from s.xn into s.tmp (qkv, heads, proj), windowed or global. `p` is
// the precision of the linear layers and convs; attention, rel-pos terms and norms stay float32.
void attention_forward(const BlockWeights& w, const io::SamConfig& c, Scratch& s,
                       kernels::Precision p);
void mlp_forward(const BlockWeights& w, const io::SamConfig& c, Scratch& s, kernels::Precision p);
// x ← x + attn(norm1(x)); x ← x + mlp(norm2(x)), on s.x.
void block_forward(const BlockWeights& w, const io::SamConfig& c, Scratch& s, kernels::Precision p);

// neck: x [G², C] → out [G², P]; `tmp` [G², P] and `cols` (3×3 im2col) are scratch.
void neck_forward(const NeckWeights& w, const io::SamConfig& c, const float* x, float* out,
                  float* tmp, float* cols, kernels::Precision p);
// The two stride-2 convs: x [96², P] → out [24², D1]; `mid` [48², D0], `cols` scratch.
void downsamples_forward(const Weights& w, const io::SamConfig& c, const float* x, float* out,
                         float* mid, float* cols, kernels::Precision p);

// One image: pixels [3, 1024, 1024] in [0, 1] → out [D1, 24, 24] NCHW. Debug taps sam.* go to
// `taps` when non-null.
void forward(const Weights& w, const io::SamConfig& c, const float* pixels, float* out, Scratch& s,
             DebugTaps* taps);

}  // namespace dsvl::vision::sam
