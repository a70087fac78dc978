// Activations of the decoder, allocated once: every buffer is sized for `max_rows` token rows
// (a prefill chunk, or the sequences of a batched decode step), and the attention scratch for
// `max_keys` cached positions. A forward pass never allocates once its workspace exists.
// One workspace serves one forward call at a time (not thread-safe); the model itself is
// shared read-only.
#pragma once

#include <cstdint>
#include <vector>

#include "io/config.h"
#include "kernels/cpu/causal_attention.h"
#include "llm/kv_view.h"

namespace dsvl::llm {

// Rows of one sequence inside the current chunk.
struct Piece {
  KvView* kv = nullptr;
  int64_t row0 = 0;  // first row in the workspace buffers
  int64_t n_rows = 0;
  int64_t pos0 = 0;         // position of row0 in its sequence
  int64_t first_logit = 0;  // rows [first_logit, n_rows) of this piece need logits
};

// Rows per chunk when `total` rows go through a workspace of `max_rows`: equal chunks (576
// rows with 512 per chunk: 288 + 288, not 512 + 64), since every chunk streams all weights
// once and a short chunk uses them poorly.
int64_t balanced_chunk_rows(int64_t total, int64_t max_rows);

struct Workspace {
  Workspace(const io::LlmConfig& config, int64_t max_rows = 256, int64_t max_keys = 4096);

  int64_t max_rows;
  std::vector<float> x;     // residual stream [max_rows, hidden]
  std::vector<float> xn;    // normalised input of the current sub-layer [max_rows, hidden]
  std::vector<float> q;     // queries; reused as the o_proj / down_proj output [max_rows, hidden]
  std::vector<float> k, v;  // new keys/values [max_rows, kv_heads·head_dim]
  std::vector<float> attn;  // attention output [max_rows, hidden]
  std::vector<float> gate, up;  // MLP [max_rows, intermediate]
  kernels::AttentionScratch attention;
  std::vector<kernels::AttentionJob> jobs;  // capacity max_rows
  std::vector<Piece> pieces;                // capacity max_rows
};

}  // namespace dsvl::llm
