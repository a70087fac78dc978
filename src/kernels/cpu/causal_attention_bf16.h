// Internal to causal_attention.cpp: the (head, row block) task for a bf16 KV cache.
#pragma once

#include <cstdint>

namespace dsvl::kernels::detail {

// Row stride of a block's score rows for n_keys keys: rounded up to 16 floats plus 16, so the
// rows read together do not share one L1 set (4096 keys would put them 16 KB apart).
int64_t score_row_stride(int64_t n_keys);

// s[j] = s[j] / sqrt_d for j < n (HF: matmul(q, kᵀ) / sqrt(head_dim)); each a correctly
// rounded division, the same in the vector body and the tail.
void divide_scores(float* s, int64_t n, float sqrt_d);

// Rows [0, n_rows) of one head: q and out rows are ldq / ldo apart (already offset to the
// head), row i attends to keys [0, keys0 + i). k: that kv head's keys, rows head_dim apart or
// (k_packed) in the repacked-weight panel layout; v: its values in lane blocks
// (kv_value_index, for a head of v_head_stride elements).
// scores: n_rows · score_row_stride(keys0 + n_rows − 1) floats of scratch.
void attend_rows_bf16(const float* q, int64_t ldq, float* out, int64_t ldo, int64_t n_rows,
                      int64_t keys0, const uint16_t* k, bool k_packed, const uint16_t* v,
                      int64_t v_head_stride, int d, float* scores);

}  // namespace dsvl::kernels::detail
