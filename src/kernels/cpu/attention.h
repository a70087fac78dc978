// Softmax attention for one head: o = softmax(scale·q·kᵀ + bias)·v, computed in blocks of query
// rows so the score matrix never exists whole (SAM's global blocks have 4096 keys: a full
// [4096, 4096] score matrix per head would be 64 MB). Single-threaded by design: model code
// runs one (window, head) task per thread and calls this from inside the task.
#pragma once

#include <cstdint>

#include "kernels/cpu/matmul.h"

namespace dsvl::kernels {

// Additive bias decomposed over a key grid (SAM's relative positions, spec §3.3): keys are a
// kh×kw grid in row-major order and score(i, y·kw + x) += rel_h[i·kh + y] + rel_w[i·kw + x],
// added as (score + rel_h) + rel_w like the official code.
struct GridBias {
  const float* rel_h = nullptr;  // [n_q, kh]
  const float* rel_w = nullptr;  // [n_q, kw]
  int64_t kh = 0, kw = 0;        // kh·kw == n_k
};

// Scores of query i against keys [j0, j1) (row[0] is key j0) += their bias, as
// (score + rel_h) + rel_w.
void add_grid_bias(const GridBias& bias, int64_t i, int64_t j0, int64_t j1, float* row);
// The same, returning the maximum of the biased scores [j0, j1) (j1 > j0).
float add_grid_bias_max(const GridBias& bias, int64_t i, int64_t j0, int64_t j1, float* row);

// Floats of scratch attention_head needs for n_k keys of head dim d (either precision).
int64_t attention_scratch_floats(int64_t n_k, int64_t d);

// q: [n_q, d] rows ldq apart; k, v: [n_k, d] rows ldk / ldv apart; o: [n_q, d] rows ldo apart.
// q is multiplied by `scale` before q·kᵀ (as (q·scale)@kᵀ in the reference code). bias may
// be nullptr. scratch: attention_scratch_floats(n_k, d) floats, not shared between threads.
void attention_head(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                    int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                    const GridBias* bias, float* o, int64_t ldo, float* scratch,
                    Precision p = Precision::kF32);

// The kBF16 flavour (attention_bf16.cpp): q·scale, k, v and the softmax probabilities rounded
// to bf16 (as the official bf16 inference holds them), products accumulated in float32 on AMX
// tiles or with vdpbf16ps (whichever the bf16 GEMMs run on), bias and softmax in float32.
// Returns false and does nothing where it does not apply (neither kernel in use: no
// AVX512_BF16, or the emulated kernel forced; d > 64); attention_head then runs float32.
bool attention_head_bf16(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                         int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                         const GridBias* bias, float* o, int64_t ldo, float* scratch);
int64_t attention_bf16_scratch_floats(int64_t n_k, int64_t d);

// Naive reference (double accumulation, full score rows).
void attention_head_ref(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                        int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                        const GridBias* bias, float* o, int64_t ldo);

// C[M, N] = A[M, K]·B[K, N] (C += A·B with `accumulate`), all row-major with leading
// dimensions. Single-threaded register-tiled kernel used for q·kᵀ (with kᵀ pre-transposed)
// and P·v.
void gemm_nn(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K, bool accumulate = false);

}  // namespace dsvl::kernels
