// The LLaMA decoder of DeepSeek-VL for training: token embedding with the image rows
// replaced, pre-norm blocks (RMSNorm, RoPE attention, SwiGLU MLP), final RMSNorm. Forward
// saves what the backward needs in named per-layer structs (llm.c style); the loss and the
// lm_head live in loss.h. Rows are packed segments (attention.h), one per batch row.
#pragma once

#include <cstdint>
#include <vector>

#include "train/attention.h"
#include "train/tensor_ops.h"

namespace dsvl::train {

struct LlmDims {
  int hidden = 0;
  int ffn = 0;
  int n_heads = 0;
  double eps = 1e-6;
  double rope_theta = 10000.0;
  int head_dim() const { return hidden / n_heads; }
};

template <typename T>
struct LlmLayerRef {
  VecRef<T> input_layernorm, post_attention_layernorm;
  LinearRef<T> q_proj, k_proj, v_proj, o_proj;
  LinearRef<T> gate_proj, up_proj, down_proj;
};

template <typename T>
struct LlmRef {
  LlmDims dims;
  LinearRef<T> embed_tokens;  // [vocab, hidden], used as a lookup table
  std::vector<LlmLayerRef<T>> layers;
  VecRef<T> norm;
  LinearRef<T> lm_head;
};

// Saved activations of one block ([M, ·] rows).
template <typename T>
struct LlmLayerActs {
  std::vector<T> x;        // block input (residual stream)
  std::vector<T> rstd1;    // input_layernorm statistics
  std::vector<T> a;        // input_layernorm output
  std::vector<T> q, k, v;  // projections, q and k after RoPE
  std::vector<T> P;        // attention probabilities
  std::vector<T> o;        // attention output before o_proj
  std::vector<T> h;        // residual after attention
  std::vector<T> rstd2;    // post_attention_layernorm statistics
  std::vector<T> m;        // post_attention_layernorm output
  std::vector<T> g, u;     // gate_proj, up_proj outputs
  std::vector<T> act;      // silu(g)·u, input of down_proj
};

template <typename T>
struct LlmActs {
  Segments seg;
  std::vector<int64_t> pos;  // position of each packed row (0 … len−1 per segment)
  RopeTable<T> rope;
  std::vector<LlmLayerActs<T>> layers;
  std::vector<T> x_final, rstd_final, h_final;  // final norm input, stats, output
};

// Scratch buffers of the backward pass (reused across layers).
template <typename T>
struct LlmGrads {
  std::vector<T> dx, dnext, dh, dact, dg, du, dm, dout, dq, dk, dv, da;
};

// inputs_embeds[m] = embed_tokens[ids[m]], except rows with is_image[m] != 0, which take the
// next row of image_rows in order (the official masked assignment).
template <typename T>
void embed_forward(const int64_t* ids, const uint8_t* is_image, int64_t M,
                   const LinearRef<T>& table, const T* image_rows, T* out);
// embed_tokens.grad[ids[m]] += d[m] for text rows; d_image_rows (if non-null) receives the
// image rows' gradient in order.
template <typename T>
void embed_backward(const T* d, const int64_t* ids, const uint8_t* is_image, int64_t M,
                    const LinearRef<T>& table, T* d_image_rows);

template <typename T>
void llm_block_forward(const LlmLayerRef<T>& w, const LlmDims& d, LlmActs<T>& acts,
                       LlmLayerActs<T>& s, T* y);
// dx += dL/dx given dy = dL/dy (dy is not modified).
template <typename T>
void llm_block_backward(const LlmLayerRef<T>& w, const LlmDims& d, const LlmActs<T>& acts,
                        const LlmLayerActs<T>& s, const T* dy, LlmGrads<T>& g, T* dx);

// Runs every block and the final norm on embeds [M, hidden] (M = seg.total()); the result is
// acts.h_final.
template <typename T>
void llm_forward(const LlmRef<T>& w, const Segments& seg, const T* embeds, LlmActs<T>& acts);
// d_embeds += dL/d(inputs_embeds) given dL/d(h_final).
template <typename T>
void llm_backward(const LlmRef<T>& w, const LlmActs<T>& acts, const T* dh_final, LlmGrads<T>& g,
                  T* d_embeds);

}  // namespace dsvl::train
