// SigLIP ViT (the official siglip_vit.py configuration: no class token, pre-norm blocks,
// exact GELU, final LayerNorm applied, attention-pool head never run) for training:
// patch-embedding conv as a GEMM over 16×16 patches, position embedding, blocks, final LN.
// Rows are [N images · n_tokens, width]; each image is one attention segment.
#pragma once

#include <cstdint>
#include <vector>

#include "train/attention.h"
#include "train/tensor_ops.h"

namespace dsvl::train {

struct SiglipDims {
  int width = 0;
  int n_heads = 0;
  int patch = 16;
  int image_size = 384;
  double eps = 1e-6;
  int grid() const { return image_size / patch; }
  int n_tokens() const { return grid() * grid(); }
  int head_dim() const { return width / n_heads; }
};

template <typename T>
struct SiglipBlockRef {
  VecRef<T> norm1_w, norm1_b, norm2_w, norm2_b;
  LinearRef<T> qkv, proj, fc1, fc2;
};

template <typename T>
struct SiglipRef {
  SiglipDims dims;
  LinearRef<T> patch_embed;  // conv weight [width, 3, p, p] seen as [width, 3·p·p] + bias
  VecRef<T> pos_embed;       // [n_tokens, width]
  std::vector<SiglipBlockRef<T>> blocks;
  VecRef<T> norm_w, norm_b;
};

template <typename T>
struct SiglipBlockActs {
  std::vector<T> x;  // block input
  std::vector<T> mean1, rstd1, a;
  std::vector<T> qkv, P, o;  // fused q|k|v, attention probabilities, attention output
  std::vector<T> h;          // residual after attention
  std::vector<T> mean2, rstd2, m;
  std::vector<T> f, gf;  // fc1 output, GELU(fc1)
};

// Scratch of the backward pass (reused across blocks and steps).
template <typename T>
struct SiglipGrads {
  std::vector<T> dcur, dnext, dh, dgf, df, dm, dout, dqkv, da;
};

template <typename T>
struct SiglipActs {
  int64_t n_images = 0;
  Segments seg;
  std::vector<T> patches;  // [N·n_tokens, 3·p·p], channel-major within a patch (conv order)
  std::vector<SiglipBlockActs<T>> blocks;
  std::vector<T> x_final, mean_f, rstd_f;
  SiglipGrads<T> grads;
};

// pixels: [N, 3, S, S], already normalised the tower's way. out: [N·n_tokens, width].
// With save = false only the output is kept (frozen tower: blocks reuse one buffer set).
template <typename T>
void siglip_forward(const SiglipRef<T>& w, const T* pixels, int64_t N, SiglipActs<T>& acts, T* out,
                    bool save = true);
// Parameter gradients from dout = dL/d(out) (no gradient w.r.t. pixels is needed).
template <typename T>
void siglip_backward(const SiglipRef<T>& w, SiglipActs<T>& acts, const T* dout);

}  // namespace dsvl::train
