#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "core/error.h"

namespace dsvl::runtime {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t resolve_context(const io::LlmConfig& c, int64_t requested) {
  const int64_t max_ctx = c.max_position_embeddings;
  if (requested == 0) return std::min(kDefaultContext, max_ctx);
  if (requested < 1 || requested > max_ctx)
    throw RequestError("context size " + std::to_string(requested) +
                       " is out of range: the model allows 1 … " + std::to_string(max_ctx) +
                       " (max_position_embeddings)");
  return requested;
}

void check_context(int64_t n_prompt, int64_t n_images, int64_t image_tokens, int64_t max_new_tokens,
                   int64_t n_ctx, int64_t max_ctx) {
  if (n_prompt < 1) throw RequestError("empty prompt: nothing to generate from");
  if (max_new_tokens < 0)
    throw RequestError("max_new_tokens must be ≥ 0, got " + std::to_string(max_new_tokens));
  if (n_prompt + max_new_tokens <= n_ctx) return;
  std::string msg = "prompt has " + std::to_string(n_prompt) + " tokens";
  if (n_images > 0)
    msg += " (" + std::to_string(n_images) + " image" + (n_images > 1 ? "s" : "") + " × " +
           std::to_string(image_tokens) + " = " + std::to_string(n_images * image_tokens) +
           " image tokens + " + std::to_string(n_prompt - n_images * image_tokens) +
           " text tokens)";
  msg += "; with up to " + std::to_string(max_new_tokens) + " new tokens it needs " +
         std::to_string(n_prompt + max_new_tokens) + " positions, more than the context of " +
         std::to_string(n_ctx) + " tokens";
  if (n_prompt < n_ctx)
    msg += ". Ask for at most " + std::to_string(n_ctx - n_prompt) + " new tokens";
  else
    msg += ". Use fewer images or a shorter prompt";
  if (n_ctx < max_ctx)
    msg += ", or raise the context (--ctx, at most " + std::to_string(max_ctx) +
           " for this model; quality degrades past 4096)";
  throw LimitError(msg);
}

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kEos:
      return "eos";
    case StopReason::kStopToken:
      return "stop_token";
    case StopReason::kCallback:
      return "callback";
    case StopReason::kMaxTokens:
      break;
  }
  return "length";
}

namespace {

int64_t checked_capacity(const llm::Llm& llm, const Prompt& p, const GenerateParams& g) {
  const int64_t n_ctx = resolve_context(llm.config(), g.n_ctx);
  check_context(p.n_tokens, p.n_images, llm.image_tokens(), g.max_new_tokens, n_ctx,
                llm.config().max_position_embeddings);
  if (!p.embeds) throw RequestError("prompt without embeddings");
  // The last generated token is never fed back, but one spare position keeps this simple.
  return std::max<int64_t>(1, p.n_tokens + g.max_new_tokens);
}

}  // namespace

Sequence::Sequence(const llm::Llm& llm, const Prompt& prompt, const GenerateParams& params,
                   TokenCallback on_token)
    : llm_(llm),
      prompt_(prompt),
      params_(params),
      on_token_(std::move(on_token)),
      sampler_(params.sampling, llm.vocab_size()),
      kv_(llm.config(), checked_capacity(llm, prompt, params), kv_dtype(llm.precision())) {
  if (params_.top_logprobs < 0)
    throw RequestError("top_logprobs must be ≥ 0, got " + std::to_string(params_.top_logprobs));
  result_.n_prompt = prompt.n_tokens;
  // Decoding appends to these every step: reserve now, so steps do not allocate.
  result_.tokens.reserve(size_t(params_.max_new_tokens));
  result_.logprobs.reserve(size_t(params_.max_new_tokens));
  if (params_.top_logprobs > 0) result_.top_logprobs.reserve(size_t(params_.max_new_tokens));
  if (params_.constraint) sampler_.set_constraint(params_.constraint.get());
  if (params_.max_new_tokens == 0) finish(StopReason::kMaxTokens);
}

void Sequence::reuse_prefix(const KvCache& cache, int64_t n) {
  if (kv_.size() != 0 || n < 0 || n >= prompt_.n_tokens || n > cache.size())
    throw RequestError("reuse_prefix: " + std::to_string(n) + " positions of a cache holding " +
                       std::to_string(cache.size()) + " for a prompt of " +
                       std::to_string(prompt_.n_tokens));
  copy_positions(cache.view(), kv_.view(), n);
  kv_.view().n_past = n;
}

void Sequence::finish(StopReason r) {
  done_ = true;
  pending_ = -1;
  result_.stop_reason = r;
}

bool Sequence::on_logits(const float* logits) {
  if (done_) return false;
  const int64_t V = llm_.vocab_size();
  TokenConstraint* constraint = params_.constraint.get();
  if (constraint)
    constraint->begin_step(params_.max_new_tokens - int64_t(result_.tokens.size()) - 1);
  const int32_t tok = sampler_.sample(logits);
  sampler_.accept(tok);
  if (constraint) constraint->accept(tok);
  event_.token = tok;
  event_.index = int64_t(result_.tokens.size());
  event_.logprob = token_logprob(logits, V, tok, params_.top_logprobs, &event_.top_logprobs);
  event_.logits = std::span<const float>(logits, size_t(V));
  const bool is_eos = params_.eos_token_id >= 0 && tok == params_.eos_token_id;
  const bool is_stop_id = std::find(params_.stop_token_ids.begin(), params_.stop_token_ids.end(),
                                    tok) != params_.stop_token_ids.end();
  event_.is_stop = is_eos || is_stop_id;
  result_.tokens.push_back(tok);
  result_.logprobs.push_back(event_.logprob);
  if (params_.top_logprobs > 0) result_.top_logprobs.push_back(event_.top_logprobs);
  const bool go_on = on_token_ ? on_token_(event_) : true;
  event_.logits = {};
  if (is_eos)
    finish(StopReason::kEos);
  else if (is_stop_id)
    finish(StopReason::kStopToken);
  else if (!go_on)
    finish(StopReason::kCallback);
  else if (constraint && constraint->complete())
    finish(StopReason::kEos);
  else if (int64_t(result_.tokens.size()) >= params_.max_new_tokens)
    finish(StopReason::kMaxTokens);
  else
    pending_ = tok;
  return !done_;
}

GenerateResult generate(const llm::Llm& llm, const Prompt& prompt, const GenerateParams& params,
                        const TokenCallback& on_token) {
  Sequence seq(llm, prompt, params, on_token);
  if (seq.done()) return std::move(seq.result());
  const int64_t n = prompt.n_tokens;
  llm::Workspace ws(llm.config(), std::clamp<int64_t>(params.prefill_chunk, 1, n),
                    seq.kv().capacity());
  std::vector<float> logits(size_t(llm.vocab_size())), x(size_t(llm.hidden_size()));

  auto t0 = std::chrono::steady_clock::now();
  llm.forward(prompt.embeds, n, seq.kv().view(), ws, n - 1, logits.data());
  seq.result().prefill_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  while (seq.on_logits(logits.data())) {
    const int32_t tok = seq.pending_token();
    llm.embed(&tok, 1, x.data());
    llm.forward(x.data(), 1, seq.kv().view(), ws, 0, logits.data());
  }
  seq.result().decode_ms = ms_since(t0);
  return std::move(seq.result());
}

}  // namespace dsvl::runtime
