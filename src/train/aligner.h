// The vision-language aligner (official MlpProjector) for training.
//   mlp_gelu:                      x → layers.0 → [GELU → layers.2 → …]
//   low_high_hybrid_split_mlp_gelu: [high_up_proj(high) ⊕ low_up_proj(low)] → [GELU → layers.1 → …]
// (high half first, GELU exact). Rows are image tokens of all images, [N·576, ·].
#pragma once

#include <cstdint>
#include <vector>

#include "train/tensor_ops.h"

namespace dsvl::train {

template <typename T>
struct AlignerRef {
  bool hybrid = false;
  LinearRef<T> high_up_proj, low_up_proj;  // hybrid only
  std::vector<LinearRef<T>> layers;        // the Linear modules of `layers`, in order
};

template <typename T>
struct AlignerActs {
  std::vector<std::vector<T>> z;  // z[i]: output of linear i (z[0]: the concatenation)
  std::vector<std::vector<T>> g;  // g[i] = GELU(z[i−1]), input of layers[i] (i ≥ 1)
};

// high may be null for mlp_gelu (low is then the single tower's features).
template <typename T>
void aligner_forward(const AlignerRef<T>& w, const T* high, const T* low, int64_t N,
                     AlignerActs<T>& acts, T* out);
// Parameter gradients, and d_high / d_low += input gradients when non-null.
template <typename T>
void aligner_backward(const AlignerRef<T>& w, const T* high, const T* low, int64_t N,
                      const AlignerActs<T>& acts, const T* dout, T* d_high, T* d_low);

}  // namespace dsvl::train
