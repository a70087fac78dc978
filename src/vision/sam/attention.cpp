// SAM attention (spec §3.3): qkv → per (window, head) softmax attention with the decomposed
// relative-position bias → heads concatenated → proj.
#include "kernels/cpu/attention.h"

#include <cmath>
#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/matmul.h"
#include "vision/sam/sam.h"

namespace dsvl::vision::sam {
namespace {

// Per-thread buffers of one attention task, carved from Scratch::task.
struct TaskBuffers {
  float *q, *k, *v, *o;  // [n, d] gathered window tokens (windowed blocks only)
  float *rel_h, *rel_w;  // [n, S]
  float* tmp;            // [S·S] decomposed_rel_pos scratch
  float* attn;           // kernels::attention_head scratch

  TaskBuffers(float* base, int64_t n, int64_t S, int64_t d) {
    q = base;
    k = q + n * d;
    v = k + n * d;
    o = v + n * d;
    rel_h = o + n * d;
    rel_w = rel_h + n * S;
    tmp = rel_w + n * S;
    attn = tmp + S * S;
  }
  static int64_t floats(int64_t n, int64_t S, int64_t d) {
    return 4 * n * d + 2 * n * S + S * S + kernels::attention_scratch_floats(n, d);
  }
};

// One head of global attention over the whole G×G grid: q, k, v read in place from qkv.
void global_head(const BlockWeights& w, const io::SamConfig& c, int64_t h, Scratch& s, float* base,
                 kernels::Precision p) {
  const int64_t G = c.grid(), C = c.width, d = c.head_dim(), n = G * G;
  TaskBuffers b(base, n, G, d);
  const float* q = s.big.data() + h * d;
  decomposed_rel_pos(q, 3 * C, G, d, w.attn_rel_pos_h.data(), w.attn_rel_pos_w.data(), b.rel_h,
                     b.rel_w, b.tmp);
  const kernels::GridBias bias{b.rel_h, b.rel_w, G, G};
  kernels::attention_head(q, 3 * C, q + C, 3 * C, q + 2 * C, 3 * C, n, n, d,
                          float(1.0 / std::sqrt(double(d))), &bias, s.attn.data() + h * d, C,
                          b.attn, p);
}

// One head of one window. The map is zero-padded (after norm1) to a multiple of the window,
// so a padded token's q/k/v is just the qkv bias; it is not masked (spec §3.3, §8.6).
void window_head(const BlockWeights& w, const io::SamConfig& c, int64_t win, int64_t h, Scratch& s,
                 float* base, kernels::Precision p) {
  const int64_t G = c.grid(), C = c.width, d = c.head_dim(), S = w.window, n = S * S;
  const int64_t per_row = (G + S - 1) / S, wy = win / per_row, wx = win % per_row;
  TaskBuffers b(base, n, S, d);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t gy = wy * S + t / S, gx = wx * S + t % S;
    const float* row =
        (gy < G && gx < G) ? s.big.data() + (gy * G + gx) * 3 * C : w.attn_qkv_bias_f.data();
    std::memcpy(b.q + t * d, row + h * d, size_t(d) * sizeof(float));
    std::memcpy(b.k + t * d, row + C + h * d, size_t(d) * sizeof(float));
    std::memcpy(b.v + t * d, row + 2 * C + h * d, size_t(d) * sizeof(float));
  }
  decomposed_rel_pos(b.q, d, S, d, w.attn_rel_pos_h.data(), w.attn_rel_pos_w.data(), b.rel_h,
                     b.rel_w, b.tmp);
  const kernels::GridBias bias{b.rel_h, b.rel_w, S, S};
  kernels::attention_head(b.q, d, b.k, d, b.v, d, n, n, d, float(1.0 / std::sqrt(double(d))), &bias,
                          b.o, d, b.attn, p);
  for (int64_t t = 0; t < n; ++t) {  // window_unpartition: drop the padding
    const int64_t gy = wy * S + t / S, gx = wx * S + t % S;
    if (gy < G && gx < G)
      std::memcpy(s.attn.data() + (gy * G + gx) * C + h * d, b.o + t * d,
                  size_t(d) * sizeof(float));
  }
}

}  // namespace

int64_t attention_task_floats(const io::SamConfig& c) {
  const int64_t G = c.grid(), d = c.head_dim(), S = c.window_size;
  const int64_t global = TaskBuffers::floats(G * G, G, d);
  return S > 0 ? std::max(global, TaskBuffers::floats(S * S, S, d)) : global;
}

void decomposed_rel_pos(const float* q, int64_t ldq, int64_t S, int64_t d, const float* table_h,
                        const float* table_w, float* rel_h, float* rel_w, float* tmp) {
  // For a fixed query row qy the table rows qy − ky + S − 1 (ky = S−1 … 0) are the contiguous
  // rows qy … qy+S−1, so each row of queries is one small GEMM against a table slice:
  // tmp[qx, j] = q(qy, qx)·table_h[qy + j], i.e. ky = S − 1 − j. Same for columns with table_w.
  for (int64_t qy = 0; qy < S; ++qy) {
    kernels::gemm_nt(q + qy * S * ldq, ldq, table_h + qy * d, d, tmp, S, S, S, d);
    for (int64_t qx = 0; qx < S; ++qx)
      for (int64_t j = 0; j < S; ++j) rel_h[(qy * S + qx) * S + (S - 1 - j)] = tmp[qx * S + j];
  }
  for (int64_t qx = 0; qx < S; ++qx) {
    kernels::gemm_nt(q + qx * ldq, S * ldq, table_w + qx * d, d, tmp, S, S, S, d);
    for (int64_t qy = 0; qy < S; ++qy)
      for (int64_t j = 0; j < S; ++j) rel_w[(qy * S + qx) * S + (S - 1 - j)] = tmp[qy * S + j];
  }
}

void attention_forward(const BlockWeights& w, const io::SamConfig& c, Scratch& s,
                       kernels::Precision p) {
  const int64_t G = c.grid(), H = c.heads;
  float* qkv = s.big.data();  // [G², 3C]
  kernels::linear(s.xn.data(), G * G, w.attn_qkv_weight, &w.attn_qkv_bias, qkv, p);
  const int64_t per_row = w.window > 0 ? (G + w.window - 1) / w.window : 1;
  const int64_t n_tasks = per_row * per_row * H;
  // Tasks are (window, head) pairs taken in turn; each thread owns one slice of s.task.
  parallel_tasks(n_tasks, [&](int tid, int64_t t) {
    float* base = s.task.data() + tid * s.task_stride;
    if (w.window > 0)
      window_head(w, c, t / H, t % H, s, base, p);
    else
      global_head(w, c, t, s, base, p);
  });
  kernels::linear(s.attn.data(), G * G, w.attn_proj_weight, &w.attn_proj_bias, s.tmp.data(), p);
}

}  // namespace dsvl::vision::sam
