// A view of one sequence's key/value cache as the decoder reads and writes it. The storage
// belongs to someone else (runtime::KvCache); the layout is
//   k[layer][kv_head][position][head_dim]   (v the same)
// so that the keys of one head are contiguous: decode streams them once per step, and
// prefill's q·kᵀ is a plain row-major GEMM.
#pragma once

#include <cstdint>

namespace dsvl::llm {

struct KvView {
  float* k = nullptr;
  float* v = nullptr;
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t capacity = 0;  // positions the storage holds
  int64_t n_past = 0;    // positions already filled (the next token goes at n_past)

  int64_t head_stride() const { return capacity * head_dim; }
  int64_t layer_stride() const { return int64_t(n_kv_heads) * head_stride(); }
  float* layer_k(int layer) const { return k + int64_t(layer) * layer_stride(); }
  float* layer_v(int layer) const { return v + int64_t(layer) * layer_stride(); }
};

}  // namespace dsvl::llm
