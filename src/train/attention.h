// Multi-head scaled-dot-product attention over packed sequences, forward and backward, and
// the rotate-half RoPE of HF LLaMA. A batch is packed as consecutive segments (one per row,
// only real tokens: right padding is dropped before the model, so no padding mask is
// needed: a pad key is masked for every query and pad queries carry no loss). The LLM uses
// causal attention within a segment; SigLIP full attention (one segment per image).
#pragma once

#include <cstdint>
#include <vector>

#include "train/tensor_ops.h"

namespace dsvl::train {

struct Segments {
  std::vector<int64_t> start, len;
  int64_t total() const { return start.empty() ? 0 : start.back() + len.back(); }
  void add(int64_t n) {
    start.push_back(total());
    len.push_back(n);
  }
};

// cos/sin tables [n_pos, head_dim] built like HF: float32 inv_freq = 1/θ^(2i/d), float32
// angle pos·inv_freq, halves repeated ([φ_0..φ_{d/2−1}, φ_0..φ_{d/2−1}]).
template <typename T>
struct RopeTable {
  int head_dim = 0;
  std::vector<T> cos, sin;
  void build(int64_t n_pos, int head_dim, double theta);
};

// In place on x [M, ld] holding n_heads heads of head_dim at columns h·head_dim; pos[m] is
// the position of row m. Backward applies the transposed rotation to the gradient.
template <typename T>
void rope_forward(T* x, int64_t M, int64_t ld, int n_heads, const int64_t* pos,
                  const RopeTable<T>& tab);
template <typename T>
void rope_backward(T* dx, int64_t M, int64_t ld, int n_heads, const int64_t* pos,
                   const RopeTable<T>& tab);

struct AttnDims {
  int n_heads = 1;
  int head_dim = 1;
  bool causal = false;
};

// Number of saved probabilities: Σ_segments n_heads·len².
int64_t attn_probs_size(const Segments& seg, int n_heads);

// out[m, h·hd + c] = Σ_j P[h](m, j)·v[j, h·hd + c] with P = softmax(q_h k_hᵀ / sqrt(hd))
// within each segment (causal: keys j ≤ m only). q, k, v rows are ld_in apart (e.g. the
// fused qkv of SigLIP with ld_in = 3·width), out rows ld_out apart. P is saved.
template <typename T>
void attention_forward(const T* q, const T* k, const T* v, int64_t ld_in, const Segments& seg,
                       const AttnDims& a, T* P, T* out, int64_t ld_out);

// Adds dq, dk, dv (rows ld_in apart) from dout (rows ld_out apart) and the saved P.
template <typename T>
void attention_backward(const T* dout, int64_t ld_out, const T* q, const T* k, const T* v,
                        int64_t ld_in, const T* P, const Segments& seg, const AttnDims& a, T* dq,
                        T* dk, T* dv);

}  // namespace dsvl::train
