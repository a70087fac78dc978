// Generation: prefill the prompt (text + image embeddings) in chunks, then decode one token at
// a time with a KV cache, sampling each token (sampler.h) and stopping on EOS, a stop token
// id, the caller's callback (stop strings: the caller detokenizes and decides), or the token
// budget. The context is checked up front: a prompt that does not fit is refused with a
// LimitError, never truncated.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "llm/llm.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"

namespace dsvl::runtime {

// The released models were trained at 4096 tokens; their config's max_position_embeddings
// (16384) is reachable with --ctx but output degrades past 4096.
inline constexpr int64_t kDefaultContext = 4096;
// The real tokenizer's EOS (never config.json's unused eos_token_id 2).
inline constexpr int32_t kDefaultEos = 100001;

// The context a request runs in: `requested`, or min(kDefaultContext,
// max_position_embeddings) when 0. RequestError above max_position_embeddings or below 1.
int64_t resolve_context(const io::LlmConfig& config, int64_t requested);

// LimitError unless n_prompt + max_new_tokens ≤ n_ctx. The message counts the prompt's
// tokens, how many of them are images (image_tokens each), and the ways out.
void check_context(int64_t n_prompt, int64_t n_images, int64_t image_tokens, int64_t max_new_tokens,
                   int64_t n_ctx, int64_t max_ctx);

// A prompt as the decoder sees it: prepare_inputs_embeds' output. The caller keeps `embeds`
// alive until generation (or its prefill) is done.
struct Prompt {
  const float* embeds = nullptr;  // [n_tokens, hidden]
  int64_t n_tokens = 0;
  int64_t n_images = 0;  // only for messages: how many image_tokens()-runs it holds
};

enum class StopReason { kEos, kStopToken, kCallback, kMaxTokens };
// "eos", "stop_token", "callback", "length".
const char* stop_reason_name(StopReason r);

// Prompt rows per prefill pass. Every pass streams all weights once and a short pass uses
// them poorly, so one pass covers a one-image prompt (576 image tokens + text); longer
// prompts are cut into equal chunks (llm::Llm::forward). Activations: ~80 MB for 1.3B,
// ~155 MB for 7B (float32).
inline constexpr int64_t kDefaultPrefillChunk = 1024;

struct GenerateParams {
  int64_t max_new_tokens = 512;
  SamplingParams sampling;
  int32_t eos_token_id = kDefaultEos;  // < 0: never stop on EOS
  std::vector<int32_t> stop_token_ids;
  int top_logprobs = 0;                          // n most likely tokens reported per step (0: none)
  int64_t n_ctx = 0;                             // 0: resolve_context's default
  int64_t prefill_chunk = kDefaultPrefillChunk;  // rows per prefill pass (at most)
  // Grammar-constrained decoding (json_constraint.h): only tokens it allows are generated,
  // and generation ends (StopReason::kEos, no EOS token) once it reports complete().
  std::shared_ptr<TokenConstraint> constraint;
};

// What the callback sees for every generated token, including a final EOS/stop token.
struct TokenEvent {
  int32_t token = 0;
  int64_t index = 0;     // 0 for the first generated token
  float logprob = 0.0f;  // log_softmax of the raw logits (before penalties/temperature)
  std::vector<TopLogprob> top_logprobs;  // GenerateParams::top_logprobs entries
  std::span<const float> logits;         // raw logits [vocab]; valid during the call only
  bool is_stop = false;                  // EOS or a stop token id: generation ends after it
};
// Return false to stop after this token (e.g. the text now ends with a stop string).
using TokenCallback = std::function<bool(const TokenEvent&)>;

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids, including the final EOS/stop token if any
  std::vector<float> logprobs;  // per token, as TokenEvent::logprob
  std::vector<std::vector<TopLogprob>> top_logprobs;  // per token when requested
  StopReason stop_reason = StopReason::kMaxTokens;
  int64_t n_prompt = 0;
  double prefill_ms = 0.0;
  double decode_ms = 0.0;
};

// One generating sequence: its cache, sampler and result. Drivers (generate(),
// BatchDecoder, a server's scheduler) run the forward passes and hand each step's logits to
// on_logits(); the sequence decides the token and whether it goes on.
class Sequence {
 public:
  // Checks the context (LimitError) and the sampling parameters (RequestError); allocates
  // the KV cache for prompt + max_new_tokens positions.
  Sequence(const llm::Llm& llm, const Prompt& prompt, const GenerateParams& params,
           TokenCallback on_token = {});

  const Prompt& prompt() const { return prompt_; }
  KvCache& kv() { return kv_; }
  // Starts from the first n positions of `cache` (a prefix cache hit: the prompt's first n
  // tokens are the same): they are copied, and prefill computes only the rest of the prompt.
  // Before any prefill; 0 ≤ n < prompt().n_tokens and n ≤ cache.size().
  void reuse_prefix(const KvCache& cache, int64_t n);
  bool done() const { return done_; }
  // The token to feed next (valid while !done()).
  int32_t pending_token() const { return pending_; }
  // Consumes the logits [vocab] of the last fed position: samples, reports, decides.
  // Returns !done().
  bool on_logits(const float* logits);
  GenerateResult& result() { return result_; }

 private:
  void finish(StopReason r);

  const llm::Llm& llm_;
  Prompt prompt_;
  GenerateParams params_;
  TokenCallback on_token_;
  Sampler sampler_;
  KvCache kv_;
  GenerateResult result_;
  TokenEvent event_;
  int32_t pending_ = -1;
  bool done_ = false;
};

// Generates for one prompt. Exceptions from the callback propagate.
GenerateResult generate(const llm::Llm& llm, const Prompt& prompt, const GenerateParams& params,
                        const TokenCallback& on_token = {});

}  // namespace dsvl::runtime
