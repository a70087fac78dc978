// DeepSeek LLM as DeepSeek-VL uses it (spec §3.1, §5): token embeddings with image rows
// merged in, LLaMA decoder layers, final RMSNorm, untied lm_head. Float32 activations; the
// GEMMs run at the precision chosen at load (kernels/cpu/weight_arena.h): kF32 multiplies the
// weights as stored, kBF16 rounds activations to bf16 and uses bf16 weights (BF16 as stored,
// F16/F32 converted once at load) with float32 accumulation.
//
// Thread-safety: an Llm is immutable after load and may be shared by any number of threads;
// each concurrent forward needs its own Workspace and its own KV caches.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/cpu/rope.h"
#include "llm/kv_view.h"
#include "llm/weights.h"
#include "llm/workspace.h"

namespace dsvl::llm {

// Rows of one sequence in a forward call: its cache, how many new tokens, and from which of
// them logits are wanted. The cache's n_past advances by n_tokens.
struct Segment {
  KvView* kv = nullptr;
  int64_t n_tokens = 0;
  int64_t first_logit = 0;  // logits for rows [first_logit, n_tokens); n_tokens → none

  static Segment all_logits(KvView* kv, int64_t n) { return {kv, n, 0}; }
  static Segment last_logit(KvView* kv, int64_t n) { return {kv, n, n > 0 ? n - 1 : 0}; }
  static Segment no_logits(KvView* kv, int64_t n) { return {kv, n, n}; }
  int64_t n_logits() const { return n_tokens - first_logit; }
};

class Llm {
 public:
  // Binds the weights of `store` (keys `language_model.*`); keeps the store's files mapped
  // for the model's lifetime. Throws IoError/ShapeError naming the first bad tensor.
  // The matrices are repacked into the GEMMs' panel layout (WeightArena: all of them on the
  // bf16 path, BF16 ones on the f32 path) unless `repack` is false (BF16 ones then stay mapped
  // as stored, unless in_memory).
  // max_positions > 0 tabulates RoPE only that far (the context the caller will use) instead
  // of all max_position_embeddings: the table is the one allocation a config alone sizes.
  static std::unique_ptr<Llm> load(const io::ModelConfig& config, const io::WeightStore& store,
                                   int64_t max_positions = 0,
                                   kernels::Precision precision = kernels::Precision::kF32,
                                   bool in_memory = false, bool repack = true);
  // Same from any weight source (in-memory models in tests and benchmarks); `keepalive` owns
  // whatever the views point into.
  static std::unique_ptr<Llm> load(const io::ModelConfig& config, const WeightSource& source,
                                   std::shared_ptr<const void> keepalive = nullptr,
                                   int64_t max_positions = 0,
                                   kernels::Precision precision = kernels::Precision::kF32,
                                   bool in_memory = false, bool repack = true);

  const io::LlmConfig& config() const { return config_; }
  int64_t vocab_size() const { return config_.vocab_size; }
  int64_t hidden_size() const { return config_.hidden_size; }
  // Image-token positions per image (processor_config num_image_tokens, 576).
  int64_t image_tokens() const { return image_tokens_; }
  // Positions RoPE is tabulated for (max_position_embeddings, or load's max_positions).
  int64_t max_positions() const { return rope_.n_pos; }
  const LlmWeights& weights() const { return weights_; }
  kernels::Precision precision() const { return arena_.precision(); }
  // Bytes of weight copies the model owns (bf16 conversions; 0 when all is mmapped).
  int64_t owned_weight_bytes() const { return arena_.owned_bytes(); }

  // Token embeddings: out [n, hidden]. Negative ids embed as id 0, as the official code does
  // (input_ids[input_ids < 0] = 0); ids ≥ vocab_size throw RequestError.
  void embed(const int32_t* ids, int64_t n, float* out) const;

  // prepare_inputs_embeds (spec §3.1): embeds `ids` (already expanded: each image is
  // image_tokens() consecutive image_token_id) and replaces the image positions, in sequence
  // order, by image_embeds [n_images · image_tokens(), hidden] in image order. RequestError if
  // the number of image positions differs from n_images · image_tokens().
  Tensor prepare_inputs_embeds(const int32_t* ids, int64_t n, int32_t image_token_id,
                               const float* image_embeds, int64_t n_images) const;

  // Runs the decoder over x (the segments' rows, one after another: [Σ n_tokens, hidden]),
  // appending each segment's keys/values to its cache, in chunks of ws.max_rows rows. Writes
  // float32 logits for the requested rows, in row order, to `logits` [Σ n_logits, vocab].
  // A row's result does not depend on the other rows of the call (batched == unbatched).
  // LimitError if a cache would overflow its capacity.
  void forward(const float* x, std::span<const Segment> segments, Workspace& ws,
               float* logits) const;

  // One sequence: logits for rows [first_logit, n) of x.
  void forward(const float* x, int64_t n, KvView& kv, Workspace& ws, int64_t first_logit,
               float* logits) const;

 private:
  Llm(kernels::Precision p, bool in_memory, bool repack) : arena_(p, in_memory, repack) {}
  void check_segments(std::span<const Segment> segments) const;
  void chunk_forward(int64_t n_rows, Workspace& ws) const;
  int64_t chunk_logits(Workspace& ws, float* logits) const;

  io::LlmConfig config_;
  int64_t image_tokens_ = 576;
  kernels::WeightArena arena_;  // owns converted matrices weights_ points into
  LlmWeights weights_;
  kernels::RopeTable rope_;
  std::shared_ptr<const void> keepalive_;
};

}  // namespace dsvl::llm
