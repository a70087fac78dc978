// Linear layers: y = x·Wᵀ + b with W a checkpoint weight [N, K] in F32, F16 or BF16.
// Activations are float32; half weights are widened to float32 on the fly (exact), so the
// result differs from a float32 reference only by summation order.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace dsvl::kernels {

// y[m, n] = Σ_k x[m, k]·w[n, k] (+ b[n] if b != nullptr and b->data != nullptr).
// x: [M, K] row-major with row stride K; y: [M, N] row-major. Multithreaded over N.
void linear(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y);

// Same with explicit strides: x rows are ldx apart, y rows ldy apart (for writing into a
// slice of a wider buffer, e.g. the two halves of the hybrid aligner's concatenation).
void linear_strided(const float* x, int64_t ldx, int64_t M, const TensorView& w,
                    const TensorView* b, float* y, int64_t ldy);

// Naive scalar reference (double accumulation) used by tests.
void linear_ref(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y);

// Plain float32 GEMM on raw pointers: C[M,N] = A[M,K]·B[N,K]ᵀ (row-major, B given as rows),
// with leading dimensions. Used by attention (q·kᵀ) and conv-as-GEMM.
void gemm_nt(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K, bool accumulate = false);

}  // namespace dsvl::kernels
