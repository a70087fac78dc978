#include "llm/workspace.h"

#include <algorithm>

#include "core/error.h"
#include "core/threadpool.h"

namespace dsvl::llm {

int64_t balanced_chunk_rows(int64_t total, int64_t max_rows) {
  max_rows = std::max<int64_t>(1, max_rows);
  const int64_t n_chunks = std::max<int64_t>(1, (total + max_rows - 1) / max_rows);
  return std::max<int64_t>(1, (total + n_chunks - 1) / n_chunks);
}

Workspace::Workspace(const io::LlmConfig& c, int64_t rows, int64_t max_keys) : max_rows(rows) {
  if (rows < 1) throw RequestError("workspace: max_rows must be ≥ 1, got " + std::to_string(rows));
  const int64_t H = c.hidden_size, F = c.intermediate_size;
  const int64_t KV = int64_t(c.num_key_value_heads) * c.head_dim();
  x.resize(size_t(rows * H));
  xn.resize(size_t(rows * H));
  q.resize(size_t(rows * H));
  k.resize(size_t(rows * KV));
  v.resize(size_t(rows * KV));
  attn.resize(size_t(rows * H));
  gate.resize(size_t(rows * F));
  up.resize(size_t(rows * F));
  attention.reserve(num_threads(),
                    kernels::causal_attention_scratch_floats(rows, std::max<int64_t>(1, max_keys)));
  jobs.reserve(size_t(rows));
  pieces.reserve(size_t(rows));
}

}  // namespace dsvl::llm
