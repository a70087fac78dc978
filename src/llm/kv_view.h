// A view of one sequence's key/value cache as the decoder reads and writes it. The storage
// belongs to someone else (runtime::KvCache); the layout is
//   v[layer][kv_head][position][head_dim]
// and k the same for float32, so that the keys and values of one head are contiguous: decode
// streams them once per step, and prefill's q·kᵀ is a plain row-major GEMM.
//
// Elements are float32, or bf16 (dtype kBF16: uint16 bit patterns, rounded to nearest even
// when the keys/values are stored) for the bf16 precision path, which halves what a decode
// step reads from the cache. bf16 keys are packed: each head's keys are a repacked weight
// [capacity, head_dim] (kernels/cpu/matmul.h: panels of 32 positions, k_head_stride elements
// per head), which the scores q·kᵀ read as they are stored, where key rows took 8×8 register
// transposes: one decode step's scores (600 keys, 8 heads, one thread) 1.4x faster with the
// keys in DRAM, 2.8x in cache (Zen 3); results the same bits. bf16 values are kept in lane
// blocks (kernels::kv_value_index: 64 lanes of every position, then the next 64), so each of
// AVX2's two 64-lane passes of p·v over a head_dim-128 head streams contiguous memory instead
// of every other 128 bytes: p·v from DRAM 14% faster at 600 positions, 37% at 4000 (Zen 3).
// The value head and layer strides are the float32 ones either way.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace dsvl::llm {

struct KvView {
  void* k = nullptr;
  void* v = nullptr;
  DType dtype = DType::kF32;  // kF32 or kBF16
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t capacity = 0;       // positions the storage holds
  int64_t n_past = 0;         // positions already filled (the next token goes at n_past)
  int64_t k_head_stride = 0;  // elements between kv heads' keys (head_stride() unless packed)

  size_t elem_bytes() const { return dtype == DType::kBF16 ? 2 : 4; }
  bool k_packed() const { return dtype == DType::kBF16; }
  // Strides in elements (of the values, and of float32 keys).
  int64_t head_stride() const { return capacity * head_dim; }
  int64_t layer_stride() const { return int64_t(n_kv_heads) * head_stride(); }
  int64_t k_layer_stride() const { return int64_t(n_kv_heads) * k_head_stride; }
  void* layer_k(int layer) const { return at(k, int64_t(layer) * k_layer_stride()); }
  void* layer_v(int layer) const { return at(v, int64_t(layer) * layer_stride()); }
  // Address of element `offset` of a buffer of this view's dtype.
  void* at(void* base, int64_t offset) const {
    return static_cast<std::byte*>(base) + offset * int64_t(elem_bytes());
  }
};

}  // namespace dsvl::llm
