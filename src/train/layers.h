// Forward and backward of the position-wise layers, side by side. Activations are row-major
// [rows, width]. Backward functions ADD into dx (callers zero the buffers, so residual
// branches just accumulate) and into parameter gradients when those are non-null.
#pragma once

#include <cstdint>

#include "train/tensor_ops.h"

namespace dsvl::train {

// y = x·Wᵀ + b. x rows are ldx apart, y rows ldy apart (defaults: dense).
template <typename T>
void linear_forward(const T* x, int64_t M, const LinearRef<T>& L, T* y, int64_t ldx = 0,
                    int64_t ldy = 0);
// dx += dy·W (skipped when dx is null); dW += dyᵀ·x; db += Σ_rows dy.
template <typename T>
void linear_backward(const T* dy, const T* x, int64_t M, const LinearRef<T>& L, T* dx,
                     int64_t ldx = 0, int64_t lddy = 0);

// HF LlamaRMSNorm: y = w ⊙ (x / sqrt(mean(x²) + eps)); rstd[m] saved for the backward.
template <typename T>
void rmsnorm_forward(const T* x, int64_t M, int64_t D, const VecRef<T>& w, double eps, T* y,
                     T* rstd);
template <typename T>
void rmsnorm_backward(const T* dy, const T* x, const T* rstd, int64_t M, int64_t D,
                      const VecRef<T>& w, T* dx);

// torch LayerNorm over the last axis (biased variance): y = (x − μ)·rstd ⊙ w + b.
template <typename T>
void layernorm_forward(const T* x, int64_t M, int64_t D, const VecRef<T>& w, const VecRef<T>& b,
                       double eps, T* y, T* mean, T* rstd);
template <typename T>
void layernorm_backward(const T* dy, const T* x, const T* mean, const T* rstd, int64_t M, int64_t D,
                        const VecRef<T>& w, const VecRef<T>& b, T* dx);

// Exact (erf) GELU, elementwise over n values.
template <typename T>
void gelu_forward(const T* x, int64_t n, T* y);
template <typename T>
void gelu_backward(const T* dy, const T* x, int64_t n, T* dx);

// LLaMA MLP gate: a = silu(g) ⊙ u, elementwise over n values.
template <typename T>
void swiglu_forward(const T* g, const T* u, int64_t n, T* a);
template <typename T>
void swiglu_backward(const T* da, const T* g, const T* u, int64_t n, T* dg, T* du);

}  // namespace dsvl::train
