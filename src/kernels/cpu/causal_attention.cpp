#include "kernels/cpu/causal_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/causal_attention_bf16.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/softmax.h"

namespace dsvl::kernels {
namespace {

// Score row i of a block: scaled by 1/√d (HF: matmul(q, kᵀ) / sqrt(head_dim)), softmax over
// its n_keys causal keys, zero for the block's later keys so that P·V over the whole block
// adds exact zeros for them.
void softmax_causal_row(float* s, int64_t n_keys, int64_t n_cols, float sqrt_d) {
  detail::divide_scores(s, n_keys, sqrt_d);
  softmax_row(s, n_keys);
  std::fill(s + n_keys, s + n_cols, 0.0f);
}

// One (job, head, row block) task.
void attend_block(const AttentionJob& job, const AttentionDims& dims, int h, int64_t r0, int64_t r1,
                  float* scores) {
  const int d = dims.head_dim;
  const int g = h / (dims.n_heads / dims.n_kv_heads);
  const int64_t n_rows = r1 - r0, k_end = job.pos0 + r1;
  if (job.kv_dtype == DType::kBF16) {
    const auto* kb = static_cast<const uint16_t*>(job.k) +
                     int64_t(g) * (job.k_packed ? job.k_head_stride : job.kv_head_stride);
    const auto* vb = static_cast<const uint16_t*>(job.v) + int64_t(g) * job.kv_head_stride;
    detail::attend_rows_bf16(
        job.q + r0 * job.ldq + int64_t(h) * d, job.ldq, job.out + r0 * job.ldo + int64_t(h) * d,
        job.ldo, n_rows, job.pos0 + r0 + 1, kb, job.k_packed, vb, job.kv_head_stride, d, scores);
    return;
  }
  const float* k = static_cast<const float*>(job.k) + int64_t(g) * job.kv_head_stride;
  const float* v = static_cast<const float*>(job.v) + int64_t(g) * job.kv_head_stride;
  const float sqrt_d = float(std::sqrt(double(d)));
  // Scores of the whole block against keys [0, k_end); each row then uses only its causal
  // prefix. Neither gemm_nt's nor gemm_nn's per-element result depends on the block shape,
  // and the zero probabilities of a row's later keys add exactly nothing.
  const int64_t lds = detail::score_row_stride(k_end);
  gemm_nt(job.q + r0 * job.ldq + int64_t(h) * d, job.ldq, k, d, scores, lds, n_rows, k_end, d);
  for (int64_t i = 0; i < n_rows; ++i)
    softmax_causal_row(scores + i * lds, job.pos0 + r0 + i + 1, k_end, sqrt_d);
  gemm_nn(scores, lds, v, d, job.out + r0 * job.ldo + int64_t(h) * d, job.ldo, n_rows, d, k_end);
}

int64_t n_blocks(const AttentionJob& j) {
  return (j.n_q + kAttentionRowBlock - 1) / kAttentionRowBlock;
}

}  // namespace

void AttentionScratch::reserve(int n_threads, int64_t floats_per_thread) {
  if (n_threads <= n_threads_ && floats_per_thread <= per_thread_) return;
  n_threads_ = std::max(n_threads_, n_threads);
  per_thread_ = std::max(per_thread_, floats_per_thread);
  buf_.assign(size_t(int64_t(n_threads_) * per_thread_), 0.0f);
}

int64_t causal_attention_scratch_floats(int64_t max_rows, int64_t max_keys) {
  return std::min(max_rows, kAttentionRowBlock) * detail::score_row_stride(max_keys);
}

void causal_attention(std::span<const AttentionJob> jobs, const AttentionDims& dims,
                      AttentionScratch& scratch) {
  int64_t n_tasks = 0, max_rows = 0, max_keys = 0;
  for (const AttentionJob& j : jobs) {
    if (j.k_packed && j.kv_dtype != DType::kBF16)
      throw Error(ErrorKind::kInternal, "causal_attention: packed keys must be bf16");
    n_tasks += n_blocks(j) * dims.n_heads;
    max_rows = std::max(max_rows, j.n_q);
    max_keys = std::max(max_keys, j.pos0 + j.n_q);
  }
  if (n_tasks == 0) return;
  scratch.reserve(num_threads(), causal_attention_scratch_floats(max_rows, max_keys));
  // Prefill blocks differ in length and are handed out as threads free up. Decode's (one row
  // each) are all alike and split evenly in a fixed order, so every thread runs the same tasks
  // at every step: the per-thread scratch the kernels grow once is grown by the first step,
  // whichever thread the scheduler delays (a shared counter let one thread take every task of
  // the first steps and the other grow its buffers later, mid-decode).
  const bool fixed = max_rows == 1;
  std::atomic<int64_t> next{0};
  parallel_run([&](int thread, int n_threads) {
    float* scores = scratch.thread_buffer(thread);
    const int64_t t0 = fixed ? n_tasks * thread / n_threads : 0;
    const int64_t t1 = fixed ? n_tasks * (thread + 1) / n_threads : n_tasks;
    const auto next_task = [&](int64_t t) { return fixed ? t + 1 : next.fetch_add(1); };
    for (int64_t t = fixed ? t0 : next.fetch_add(1); t < t1; t = next_task(t)) {
      // Locate the job; within a job, the last (longest) row blocks go first so the causal
      // triangle's uneven work balances out.
      int64_t local = t;
      size_t ji = 0;
      while (local >= n_blocks(jobs[ji]) * dims.n_heads)
        local -= n_blocks(jobs[ji++]) * dims.n_heads;
      const AttentionJob& job = jobs[ji];
      const int64_t block = n_blocks(job) - 1 - local / dims.n_heads;
      const int h = int(local % dims.n_heads);
      const int64_t r0 = block * kAttentionRowBlock;
      attend_block(job, dims, h, r0, std::min(job.n_q, r0 + kAttentionRowBlock), scores);
    }
  });
}

void kv_store(const float* x, int64_t n, void* dst, DType dtype) {
  if (dtype != DType::kBF16) {
    std::memcpy(dst, x, sizeof(float) * size_t(n));
    return;
  }
  auto* out = static_cast<uint16_t*>(dst);
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i < n; i += 16) {
    const __mmask16 m = simd::mask16(int(std::min<int64_t>(16, n - i)));
    const __m512i r = simd::round_bf16_lanes(_mm512_maskz_loadu_ps(m, x + i));
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtepi32_epi16(r));
  }
#endif
  for (; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

void kv_store_values(const float* x, int d, uint16_t* values, int64_t capacity, int64_t pos) {
  const int b = kv_value_block(d);
  for (int c = 0; c < d; c += b)
    kv_store(x + c, b, values + kv_value_index(capacity * d, d, pos, c), DType::kBF16);
}

void kv_store_packed(const float* x, int64_t d, uint16_t* keys, int64_t pos) {
  // Element (pos, c) of the panel layout (gemm_internal.h): panel pos / kNR, pair row c / 2.
  uint16_t* col = keys + pos / detail::kNR * detail::panel_elems(d) + 2 * (pos % detail::kNR);
  thread_local std::vector<uint16_t> row;
  row.assign(size_t(detail::panel_k(d)), 0);
  kv_store(x, d, row.data(), DType::kBF16);
  for (int64_t c = 0; c < int64_t(row.size()); c += 2)
    std::memcpy(col + c * detail::kNR, row.data() + c, 2 * sizeof(uint16_t));
}

void causal_attention_ref(const AttentionJob& job, const AttentionDims& dims) {
  const int d = dims.head_dim, group = dims.n_heads / dims.n_kv_heads;
  std::vector<double> s;
  // Element e of the cache, widened.
  auto kv_at = [&](const void* base, int64_t e) {
    return job.kv_dtype == DType::kBF16 ? double(bf16_to_f32(static_cast<const uint16_t*>(base)[e]))
                                        : double(static_cast<const float*>(base)[e]);
  };
  // The bf16 path rounds q to bf16 (as the official bf16 inference holds it).
  const bool bf16 = job.kv_dtype == DType::kBF16;
  auto q_at = [&](const float* q, int i) {
    return bf16 ? double(bf16_to_f32(f32_to_bf16(q[i]))) : double(q[i]);
  };
  // Key c of position j for kv head g, widened.
  auto key_at = [&](int g, int64_t j, int c) {
    if (!job.k_packed) return kv_at(job.k, int64_t(g) * job.kv_head_stride + j * d + c);
    const auto* keys = static_cast<const uint16_t*>(job.k) + int64_t(g) * job.k_head_stride;
    return double(bf16_to_f32(detail::panel_at({DType::kBF16, keys, d, true}, j, c)));
  };
  // Offset of lane c of position j in a kv head's values (bf16: in lane blocks).
  auto value_at = [&](int64_t j, int c) {
    return bf16 ? kv_value_index(job.kv_head_stride, d, j, c) : j * d + c;
  };
  for (int64_t t = 0; t < job.n_q; ++t)
    for (int h = 0; h < dims.n_heads; ++h) {
      const float* q = job.q + t * job.ldq + int64_t(h) * d;
      const int64_t kv0 = int64_t(h / group) * job.kv_head_stride;
      const int64_t n_keys = job.pos0 + t + 1;
      s.assign(size_t(n_keys), 0.0);
      double mx = -INFINITY, sum = 0.0;
      for (int64_t j = 0; j < n_keys; ++j) {
        for (int i = 0; i < d; ++i) s[size_t(j)] += q_at(q, i) * key_at(h / group, j, i);
        s[size_t(j)] /= std::sqrt(double(d));
        mx = std::max(mx, s[size_t(j)]);
      }
      for (auto& x : s) sum += (x = std::exp(x - mx));
      float* out = job.out + t * job.ldo + int64_t(h) * d;
      for (int i = 0; i < d; ++i) {
        double acc = 0.0;
        for (int64_t j = 0; j < n_keys; ++j)
          acc += s[size_t(j)] / sum * kv_at(job.v, kv0 + value_at(j, i));
        out[i] = float(acc);
      }
    }
}

}  // namespace dsvl::kernels
