// The key/value cache of one sequence: float32 or bf16 (kv_dtype(): bf16 on the bf16 precision
// path), laid out [layer][kv_head][position][head_dim], bf16 keys packed for the GEMMs (see
// llm/kv_view.h) and bf16 values in lane blocks, preallocated for
// `capacity` positions so decoding never allocates.
// Size: 2 · layers · kv_heads · head_dim · 4 (f32) or 2 (bf16) bytes per position — 384 / 192
// KiB for the 1.3B model, 960 / 480 KiB for 7B — so callers size it to prompt + max new
// tokens, not to the whole context, and memory is only touched as positions fill.
#pragma once

#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "io/config.h"
#include "kernels/cpu/matmul.h"
#include "llm/kv_view.h"

namespace dsvl::runtime {

class KvCache {
 public:
  // dtype: kF32 or kBF16 (anything else throws ConfigError).
  KvCache(const io::LlmConfig& config, int64_t capacity, DType dtype = DType::kF32);

  int64_t capacity() const { return view_.capacity; }
  // Positions filled so far (the next token's position).
  int64_t size() const { return view_.n_past; }
  // Forgets positions ≥ n (n ≤ size()): e.g. to score several continuations of one prompt.
  void truncate(int64_t n);
  void clear() { truncate(0); }
  // Bytes of storage held (packed keys: positions rounded up to whole panels of 32, head_dim
  // to a multiple of 32).
  size_t bytes() const;
  static size_t bytes_per_position(const io::LlmConfig& config, DType dtype = DType::kF32);
  size_t bytes_per_position() const;
  DType dtype() const { return view_.dtype; }

  // What the decoder reads and writes; forward() advances view().n_past.
  llm::KvView& view() { return view_; }
  const llm::KvView& view() const { return view_; }

 private:
  size_t k_bytes() const;
  size_t v_bytes() const;

  std::unique_ptr<std::byte[]> k_, v_;  // uninitialised: pages are committed as they are written
  llm::KvView view_;
};

// The cache dtype of a GEMM precision: bf16 for kBF16 (the keys/values are products of bf16
// GEMMs already), float32 otherwise.
DType kv_dtype(kernels::Precision p);

// Copies positions [0, n) of every layer and head from src to dst (same model and dtype, any
// capacities ≥ n); dst's n_past is left alone. Packed keys go by whole panels: dst's positions
// from n up to the next multiple of 32 get src's contents too.
void copy_positions(const llm::KvView& src, llm::KvView& dst, int64_t n);

}  // namespace dsvl::runtime
