#include "runtime/kv_cache.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/cpu/causal_attention.h"

namespace dsvl::runtime {

KvCache::KvCache(const io::LlmConfig& c, int64_t capacity, DType dtype) {
  if (dtype != DType::kF32 && dtype != DType::kBF16)
    throw ConfigError(std::string("KV cache dtype must be F32 or BF16, got ") + dtype_name(dtype));
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
  view_.dtype = dtype;
  view_.k_head_stride = view_.k_packed()
                            ? kernels::packed_elems({capacity, int64_t(view_.head_dim)})
                            : view_.head_stride();
  k_.reset(new std::byte[k_bytes()]);
  v_.reset(new std::byte[v_bytes()]);
  view_.k = k_.get();
  view_.v = v_.get();
}

void KvCache::truncate(int64_t n) {
  if (n < 0 || n > view_.n_past)
    throw RequestError("KV cache truncate to " + std::to_string(n) + " but it holds " +
                       std::to_string(view_.n_past) + " positions");
  view_.n_past = n;
}

void copy_positions(const llm::KvView& src, llm::KvView& dst, int64_t n) {
  if (n > src.capacity || n > dst.capacity || src.n_layers != dst.n_layers ||
      src.n_kv_heads != dst.n_kv_heads || src.head_dim != dst.head_dim || src.dtype != dst.dtype)
    throw RequestError("copy_positions: " + std::to_string(n) + " positions between caches of " +
                       std::to_string(src.capacity) + " (" + dtype_name(src.dtype) + ") and " +
                       std::to_string(dst.capacity) + " (" + dtype_name(dst.dtype) + ")");
  const size_t bytes = src.elem_bytes() * size_t(n * src.head_dim);
  // Packed keys: the panels holding positions [0, n), the last one whole (its later positions
  // are not filled in dst yet, and the ones filled later overwrite them).
  const size_t k_bytes =
      src.k_packed() ? src.elem_bytes() * size_t(kernels::packed_elems({n, src.head_dim})) : bytes;
  // Values: float32 rows; bf16 lane blocks of `vb` lanes (kernels::kv_value_index), each
  // [position][vb] and capacity · vb elements long, copied block by block.
  const int64_t vb =
      src.dtype == DType::kBF16 ? kernels::kv_value_block(src.head_dim) : src.head_dim;
  const size_t v_bytes = src.elem_bytes() * size_t(n * vb);
  for (int l = 0; l < src.n_layers; ++l)
    for (int h = 0; h < src.n_kv_heads; ++h) {
      std::memcpy(dst.at(dst.layer_k(l), h * dst.k_head_stride),
                  src.at(src.layer_k(l), h * src.k_head_stride), k_bytes);
      for (int64_t c = 0; c < src.head_dim; c += vb)  // block c / vb
        std::memcpy(dst.at(dst.layer_v(l), h * dst.head_stride() + c * dst.capacity),
                    src.at(src.layer_v(l), h * src.head_stride() + c * src.capacity), v_bytes);
    }
}

size_t KvCache::bytes_per_position(const io::LlmConfig& c, DType dtype) {
  return 2 * size_t(c.num_hidden_layers) * size_t(c.num_key_value_heads) * size_t(c.head_dim()) *
         dtype_size(dtype);
}

size_t KvCache::bytes_per_position() const {
  return 2 * size_t(view_.n_layers) * size_t(view_.n_kv_heads) * size_t(view_.head_dim) *
         view_.elem_bytes();
}

size_t KvCache::k_bytes() const {
  return size_t(view_.n_layers) * size_t(view_.k_layer_stride()) * view_.elem_bytes();
}

size_t KvCache::v_bytes() const {
  return size_t(view_.n_layers) * size_t(view_.layer_stride()) * view_.elem_bytes();
}

size_t KvCache::bytes() const { return k_bytes() + v_bytes(); }

DType kv_dtype(kernels::Precision p) {
  return p == kernels::Precision::kBF16 ? DType::kBF16 : DType::kF32;
}

}  // namespace dsvl::runtime
