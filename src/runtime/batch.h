// Batching: several independent sequences (different lengths, each with its own KV cache and
// sampler) share forward passes, so the weights are read once per step for all of them. Each
// row's arithmetic is independent of the other rows (llm::Llm::forward's contract), so the
// results are identical to running each sequence alone.
//
// BatchDecoder is the building block for a continuous-batching server: sequences may join
// (prefill) and leave (done) between steps.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "llm/llm.h"
#include "runtime/generate.h"

namespace dsvl::runtime {

class BatchDecoder {
 public:
  // Buffers for up to max_sequences sequences per step, caches of up to max_keys positions,
  // prefill in chunks of prefill_chunk rows.
  BatchDecoder(const llm::Llm& llm, int64_t max_sequences, int64_t max_keys,
               int64_t prefill_chunk = kDefaultPrefillChunk);

  // Prefills the prompts of `seqs` (fresh sequences, or ones started from a cached prefix)
  // in shared forward passes and hands each its last-position logits (Sequence::on_logits).
  void prefill(std::span<Sequence* const> seqs);
  // Feeds each sequence's pending token — one row per sequence, each its own cache — and
  // hands each its logits. Sequences already done are skipped. No allocation.
  void step(std::span<Sequence* const> seqs);

 private:
  const llm::Llm& llm_;
  int64_t max_sequences_;
  llm::Workspace ws_;
  std::vector<float> x_;       // [max_sequences, hidden]
  std::vector<float> logits_;  // [max_sequences, vocab]
  std::vector<llm::Segment> segments_;
  std::vector<Sequence*> active_;
};

struct BatchRequest {
  Prompt prompt;
  GenerateParams params;
  TokenCallback on_token;
};

// Generates for all requests together: one shared prefill, then batched decode steps until
// every sequence has stopped. Results in request order; each equals generate() on that
// request alone.
std::vector<GenerateResult> generate_batch(const llm::Llm& llm,
                                           std::span<const BatchRequest> requests);

}  // namespace dsvl::runtime
