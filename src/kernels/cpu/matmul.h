// Linear layers: y = x·Wᵀ + b with W a checkpoint weight [N, K] in F32, F16 or BF16.
//
// Two precisions:
//  - Precision::kF32 (default): activations float32, half weights widened to float32 on the
//    fly (exact), so the result differs from a float32 reference only by summation order.
//  - Precision::kBF16: activations rounded to bf16 (nearest even) and weights taken as bf16
//    (BF16 as stored, zero-copy; F32/F16 rounded on the fly — convert them once with
//    to_bf16() to avoid paying that per call), products summed in float32. Uses AMX tiles
//    when the CPU has them, else AVX512_BF16 dot products.
// Both use all threads of the pool (core/threadpool.h) and pick a weight-streaming kernel for
// M ≤ 8 rows (decode) and a cache-blocked GEMM above. Calls from inside a pool worker run on
// that thread only. Not reentrant with respect to other parallel_for users of the pool.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace dsvl::kernels {

enum class Precision { kF32, kBF16 };

// y[m, n] = Σ_k x[m, k]·w[n, k] (+ b[n] if b != nullptr and b->data != nullptr).
// x: [M, K] row-major with row stride K; y: [M, N] row-major. b: [N] in any float dtype.
void linear(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y,
            Precision p = Precision::kF32);

// Same with explicit strides: x rows are ldx apart, y rows ldy apart (for writing into a
// slice of a wider buffer, e.g. the two halves of the hybrid aligner's concatenation).
void linear_strided(const float* x, int64_t ldx, int64_t M, const TensorView& w,
                    const TensorView* b, float* y, int64_t ldy, Precision p = Precision::kF32);

// y += x·wᵀ (no bias): a projection added straight into the residual stream. The same bits as
// linear into a buffer and then y += it on the AMX path (C is added once, after the whole K
// sum); the K-blocked kernels (f32, vdpbf16ps) add y at the first K block instead.
void linear_add(const float* x, int64_t M, const TensorView& w, float* y,
                Precision p = Precision::kF32);

// LLaMA's gated MLP input: y = SiLU(x·gateᵀ) ⊙ (x·upᵀ), x: [M, K], gate and up: [N, K], y:
// [M, N]. The same bits as linear, linear and silu_mul; on the bf16 AMX path with M > 16 one
// fused pass, otherwise exactly those three steps with up_scratch ([M, N]) holding x·upᵀ.
void linear_swiglu(const float* x, int64_t M, const TensorView& gate, const TensorView& up,
                   float* y, float* up_scratch, Precision p = Precision::kF32);

// Naive scalar references (double accumulation) used by tests. The bf16 one rounds x and w
// to bf16 first, as the bf16 path does.
void linear_ref(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y);
void linear_ref_bf16(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y);

// Plain GEMM on raw float pointers: C[M,N] (+)= A[M,K]·B[N,K]ᵀ (row-major, B given as rows),
// with leading dimensions. Used by attention (q·kᵀ) and conv-as-GEMM. With kBF16, A and B
// are rounded to bf16 and products summed in float32.
void gemm_nt(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K, bool accumulate = false,
             Precision p = Precision::kF32);

// An owned bf16 copy of a weight (what torch's .to(torch.bfloat16) does: round to nearest
// even), for F16/F32 checkpoints on the bf16 path. view() borrows data, so keep the struct
// alive (and unmoved-from) while the view is used.
struct Bf16Weight {
  Shape shape;
  std::vector<uint16_t> data;
  TensorView view() const { return TensorView{DType::kBF16, shape, data.data()}; }
};
// Converts any float-typed view (F32/F16/BF16); throws ShapeError for other dtypes.
Bf16Weight to_bf16(const TensorView& w);
// The same into caller-owned storage of w.numel() elements.
void to_bf16_into(const TensorView& w, uint16_t* dst);

// A weight repacked for the GEMMs (what WeightArena does to the LLM's matrices at load):
// rounded to bf16 as to_bf16() does, stored in the kernels' panels of 32 rows (tile layout,
// see gemm_internal.h) so that no GEMM packs it per call and decode streams it sequentially.
// The view is marked `packed`; linear() on it at Precision::kBF16 gives the same bits as on
// the row-major weight, with every kernel, and at Precision::kF32 the same bits as on the
// row-major bf16 values (exact for a BF16 weight). view() borrows data, as Bf16Weight's.
struct PackedWeight {
  Shape shape;
  std::vector<uint16_t> data;
  TensorView view() const { return TensorView{DType::kBF16, shape, data.data(), true}; }
};
PackedWeight pack_bf16(const TensorView& w);
// Elements (uint16) of the repacked form of an [N, K] weight, padding included, and its
// panels: pack_bf16_panels writes panels [p0, p1) (rows 32·p0 .. 32·p1) into dst, which holds
// the whole repacked weight. Throws ShapeError for non-float or non-2-D weights.
int64_t packed_elems(const Shape& shape);
int64_t packed_panels(const Shape& shape);
void pack_bf16_panels(const TensorView& w, int64_t p0, int64_t p1, uint16_t* dst);

// Name of the kernel the bf16 path uses on this machine: "amx", "avx512_bf16" or "emulated".
const char* bf16_kernel_name();

}  // namespace dsvl::kernels
