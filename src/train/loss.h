// Next-token cross-entropy with the Hugging Face convention, fused with the lm_head so that
// logits exist only for rows that carry a loss (for a 576-token image most rows carry none)
// and only a chunk at a time ([chunk, vocab], not [tokens, vocab]).
#pragma once

#include <cstdint>
#include <vector>

#include "train/tensor_ops.h"

namespace dsvl::train {

// For each i: z = h[rows[i]]·W_headᵀ, nll[i] = logsumexp(z) − z[targets[i]].
// If dh is non-null, also backpropagates grad_scale·Σ nll: dh[rows[i]] += dz·W_head and
// dW_head += dzᵀ·h (when head.dw is set), with dz = grad_scale·(softmax(z) − onehot).
// Returns Σ nll (double).
template <typename T>
double lm_head_cross_entropy(const T* h, int64_t D, const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& targets, const LinearRef<T>& head,
                             double grad_scale, T* nll, T* dh);

}  // namespace dsvl::train
