// General strided GEMM for the training path: C[M, N] (+)= A[M, K] · B[K, N], where A and B
// are read through (row stride, column stride) pairs so that every transpose a backward pass
// needs (x·Wᵀ, dy·W, dyᵀ·x, q·kᵀ per head …) is the same call without copies, and either
// operand may be a stored F16/BF16 checkpoint tensor (widened exactly to float32 while packing).
//
// Implementation: BLIS-style blocking (pack a K×N panel of B and an M×K block of A into
// contiguous float32, then a register-blocked AVX-512 micro-kernel). Multithreaded over the
// larger of M and N; calls made from inside a parallel_for run single-threaded (threadpool.h).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace dsvl::kernels {

// Element (i, j) of a matrix operand lives at data[i·rs + j·cs] (in elements of `dtype`).
struct MatRef {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rs = 0;
  int64_t cs = 1;
};

// Row-major float matrix with leading dimension ld.
inline MatRef mat(const float* p, int64_t ld) { return {p, DType::kF32, ld, 1}; }
// The transpose of a row-major float matrix with leading dimension ld.
inline MatRef mat_t(const float* p, int64_t ld) { return {p, DType::kF32, 1, ld}; }
// A 2-D weight view [rows, cols] as stored (any float dtype), or its transpose.
MatRef weight(const TensorView& w);
MatRef weight_t(const TensorView& w);

// C[i·ldc + j] = (accumulate ? C : 0) + Σ_k A(i, k)·B(k, j).
void gemm(int64_t M, int64_t N, int64_t K, const MatRef& A, const MatRef& B, float* C, int64_t ldc,
          bool accumulate);

// Floating-point operations (2·M·N·K per call) done by gemm() since the process started;
// benchmarks read it to report GFLOP/s.
uint64_t gemm_flop_count();

// Naive scalar reference with double accumulation (tests).
void gemm_ref(int64_t M, int64_t N, int64_t K, const MatRef& A, const MatRef& B, float* C,
              int64_t ldc, bool accumulate);

}  // namespace dsvl::kernels
