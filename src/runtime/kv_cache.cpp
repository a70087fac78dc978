#include "runtime/kv_cache.h"

#include <string>

#include "core/error.h"

namespace dsvl::runtime {

KvCache::KvCache(const io::LlmConfig& c, int64_t capacity) {
  if (capacity < 1)
    throw RequestError("KV cache capacity must be ≥ 1, got " + std::to_string(capacity));
  if (capacity > c.max_position_embeddings)
    throw LimitError("KV cache capacity " + std::to_string(capacity) +
                     " exceeds max_position_embeddings " +
                     std::to_string(c.max_position_embeddings));
  view_.n_layers = c.num_hidden_layers;
  view_.n_kv_heads = c.num_key_value_heads;
  view_.head_dim = c.head_dim();
  view_.capacity = capacity;
  view_.n_past = 0;
  const size_t n = size_t(int64_t(view_.n_layers) * view_.layer_stride());
  k_.reset(new float[n]);
  v_.reset(new float[n]);
  view_.k = k_.get();
  view_.v = v_.get();
}

void KvCache::truncate(int64_t n) {
  if (n < 0 || n > view_.n_past)
    throw RequestError("KV cache truncate to " + std::to_string(n) + " but it holds " +
                       std::to_string(view_.n_past) + " positions");
  view_.n_past = n;
}

size_t KvCache::bytes_per_position(const io::LlmConfig& c) {
  return 2 * size_t(c.num_hidden_layers) * size_t(c.num_key_value_heads) * size_t(c.head_dim()) *
         sizeof(float);
}

size_t KvCache::bytes() const {
  return 2 * size_t(view_.n_layers) * size_t(view_.layer_stride()) * sizeof(float);
}

}  // namespace dsvl::runtime
