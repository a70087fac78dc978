// Causal multi-head attention over a KV cache (spec §5): for each head h and query row t,
//   out = softmax(q·Kᵀ / √d) · V   over the keys at positions [0, pos0 + t],
// float32 scores and softmax. Grouped-query attention: head h reads kv head
// h / (n_heads / n_kv_heads). The KV layout is [kv_head][position][head_dim] per sequence, so
// one head's keys are contiguous and decode reads them in one streaming pass (bf16 caches
// pack the keys and keep the values in lane blocks: AttentionJob).
//
// The cache holds float32 or bf16 keys/values (AttentionJob::kv_dtype). float32 caches go
// through gemm_nt (scores of a block of rows), softmax_row and gemm_nn (P·V): float32
// throughout, the path `dump` relies on; bf16 caches through the bf16 GEMM for the scores (q
// rounded to bf16, keys as cached, float32 sums; AMX where available), softmax with
// vecmath::exp16, and p·v accumulated in float32 reading each value row once per (head, row
// block).
//
// Determinism contract: the result of one query row depends only on that row's q and the keys
// and values it attends to — not on how many rows or sequences share the call, nor on the
// thread count. Batched and unbatched runs therefore agree bit for bit.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"

namespace dsvl::kernels {

struct AttentionDims {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
};

// One sequence's part of an attention call.
struct AttentionJob {
  const float* q = nullptr;  // [n_q, n_heads·head_dim], row stride ldq (RoPE already applied)
  int64_t ldq = 0;
  float* out = nullptr;  // [n_q, n_heads·head_dim], row stride ldo
  int64_t ldo = 0;
  int64_t n_q = 0;
  int64_t pos0 = 0;              // position of query row 0; the cache holds keys [0, pos0 + n_q)
  const void* k = nullptr;       // kv head g, position p: k[(g·kv_head_stride) + p·head_dim]
  const void* v = nullptr;       // the same layout as k for float32 (bf16: see below)
  int64_t kv_head_stride = 0;    // elements between consecutive kv heads (capacity · head_dim)
  DType kv_dtype = DType::kF32;  // of k and v: kF32 (float) or kBF16 (uint16 bit patterns)
  // bf16 only: the keys of kv head g (at k + g·k_head_stride) are in the repacked-weight layout
  // of matmul.h (PackedWeight of [capacity, head_dim]; written by kv_store_packed), which the
  // scores q·kᵀ read as they are: no transposes, one sequential stream per head.
  bool k_packed = false;
  int64_t k_head_stride = 0;
  // bf16 values are always kept in lane blocks (kv_value_index): a head's value lanes
  // [0, kv_value_block(head_dim)) for every position, then the next block's, so each pass of
  // p·v over one block streams contiguous memory.
};

// Value lanes per block of a bf16 cache: 64 where head_dim is a multiple of 64 (AVX2's p·v
// accumulates 64 lanes per pass over the keys), else head_dim (one block: plain rows).
constexpr int kv_value_block(int head_dim) { return head_dim % 64 == 0 ? 64 : head_dim; }

// Element of lane c, position p in one kv head's bf16 values, the head holding
// kv_head_stride / head_dim positions: [head_dim / block][position][block].
constexpr int64_t kv_value_index(int64_t kv_head_stride, int head_dim, int64_t p, int c) {
  const int b = kv_value_block(head_dim);
  return c / b * (kv_head_stride / head_dim * b) + p * b + c % b;
}

// Per-thread score rows, reused across calls; it grows (allocates) only when a call needs more
// than any call before it, so a workspace reserved for the context never allocates again.
class AttentionScratch {
 public:
  void reserve(int n_threads, int64_t floats_per_thread);
  float* thread_buffer(int thread) { return buf_.data() + int64_t(thread) * per_thread_; }

 private:
  std::vector<float> buf_;
  int n_threads_ = 0;
  int64_t per_thread_ = 0;
};

// Query rows handled together per (head, block) task: whole register tiles of the f32 GEMM
// kernels. AVX-512: two 14-row tiles (32 left a 4-row tile: 3-6% slower per layer at 576
// positions). AVX2: eight 6-row tiles (28 left a 4-row tile, and each block widens the values
// it reads once: prefill attention at 48 against 28, Zen 3, bf16 0.91× at 576 positions and
// 0.87× at 3000, float32 0.93× and 0.85×; 30-60 all within a few percent of 48).
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
constexpr int64_t kAttentionRowBlock = 48;
#else
constexpr int64_t kAttentionRowBlock = 28;
#endif

// Floats per thread that a call with these sizes needs (for reserving ahead).
int64_t causal_attention_scratch_floats(int64_t max_rows, int64_t max_keys);

// Runs all jobs; multithreaded over (job, head, row block) tasks.
void causal_attention(std::span<const AttentionJob> jobs, const AttentionDims& dims,
                      AttentionScratch& scratch);

// Stores n floats as cache elements of `dtype`: a copy for kF32, rounded to nearest even for
// kBF16 (bit-exact with f32_to_bf16).
void kv_store(const float* x, int64_t n, void* dst, DType dtype);

// Stores the value of position `pos` (d floats, rounded to bf16 as kv_store does) into one kv
// head's bf16 values, which hold `capacity` positions in lane blocks (kv_value_index).
void kv_store_values(const float* x, int d, uint16_t* values, int64_t capacity, int64_t pos);

// Stores the key of position `pos` (d floats, rounded to bf16 as kv_store does) into one kv
// head's keys in the packed layout (AttentionJob::k_packed), with the layout's padding past d
// zeroed.
void kv_store_packed(const float* x, int64_t d, uint16_t* keys, int64_t pos);

// Naive scalar reference (double accumulation) for one job, either cache dtype and key layout;
// with a bf16 cache q is rounded to bf16 first, as the kernel does.
void causal_attention_ref(const AttentionJob& job, const AttentionDims& dims);

}  // namespace dsvl::kernels
