#include "runtime/batch.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"

namespace dsvl::runtime {

BatchDecoder::BatchDecoder(const llm::Llm& llm, int64_t max_sequences, int64_t max_keys,
                           int64_t prefill_chunk)
    : llm_(llm),
      max_sequences_(std::max<int64_t>(1, max_sequences)),
      ws_(llm.config(), std::max(max_sequences_, prefill_chunk), max_keys),
      x_(size_t(max_sequences_ * llm.hidden_size())),
      logits_(size_t(max_sequences_ * llm.vocab_size())) {
  segments_.reserve(size_t(max_sequences_));
  active_.reserve(size_t(max_sequences_));
}

void BatchDecoder::prefill(std::span<Sequence* const> seqs) {
  if (int64_t(seqs.size()) > max_sequences_)
    throw RequestError("batch of " + std::to_string(seqs.size()) + " sequences, at most " +
                       std::to_string(max_sequences_));
  const int64_t H = llm_.hidden_size(), V = llm_.vocab_size();
  // The prompts side by side: one x for the whole call (allocated per prefill, not per step).
  // A sequence whose cache already holds the start of its prompt (Sequence::reuse_prefix)
  // computes only the rest.
  int64_t rows = 0;
  for (Sequence* s : seqs) rows += s->prompt().n_tokens - s->kv().size();
  std::vector<float> x(size_t(rows * H));
  segments_.clear();
  active_.clear();
  float* dst = x.data();
  for (Sequence* s : seqs) {
    if (s->done()) continue;
    const Prompt& p = s->prompt();
    const int64_t from = s->kv().size(), n = p.n_tokens - from;
    std::memcpy(dst, p.embeds + from * H, sizeof(float) * size_t(n * H));
    dst += n * H;
    segments_.push_back(llm::Segment::last_logit(&s->kv().view(), n));
    active_.push_back(s);
  }
  llm_.forward(x.data(), segments_, ws_, logits_.data());
  for (size_t i = 0; i < active_.size(); ++i)
    active_[i]->on_logits(logits_.data() + int64_t(i) * V);
}

void BatchDecoder::step(std::span<Sequence* const> seqs) {
  const int64_t H = llm_.hidden_size(), V = llm_.vocab_size();
  segments_.clear();
  active_.clear();
  for (Sequence* s : seqs) {
    if (s->done()) continue;
    if (int64_t(active_.size()) == max_sequences_)
      throw RequestError("batch step with more than " + std::to_string(max_sequences_) +
                         " sequences");
    const int32_t tok = s->pending_token();
    llm_.embed(&tok, 1, x_.data() + int64_t(active_.size()) * H);
    segments_.push_back(llm::Segment::all_logits(&s->kv().view(), 1));
    active_.push_back(s);
  }
  if (active_.empty()) return;
  llm_.forward(x_.data(), segments_, ws_, logits_.data());
  for (size_t i = 0; i < active_.size(); ++i)
    active_[i]->on_logits(logits_.data() + int64_t(i) * V);
}

std::vector<GenerateResult> generate_batch(const llm::Llm& llm,
                                           std::span<const BatchRequest> requests) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::unique_ptr<Sequence>> owned;
  std::vector<Sequence*> seqs;
  int64_t max_keys = 1, chunk = 1;
  for (const BatchRequest& r : requests) {
    owned.push_back(std::make_unique<Sequence>(llm, r.prompt, r.params, r.on_token));
    seqs.push_back(owned.back().get());
    max_keys = std::max(max_keys, owned.back()->kv().capacity());
    chunk = std::max(chunk, r.params.prefill_chunk);
  }
  BatchDecoder dec(llm, int64_t(seqs.size()), max_keys, chunk);

  auto t0 = Clock::now();
  dec.prefill(seqs);
  const double prefill_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  t0 = Clock::now();
  while (std::any_of(seqs.begin(), seqs.end(), [](Sequence* s) { return !s->done(); }))
    dec.step(seqs);
  const double decode_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

  std::vector<GenerateResult> out;
  for (Sequence* s : seqs) {
    s->result().prefill_ms = prefill_ms;
    s->result().decode_ms = decode_ms;
    out.push_back(std::move(s->result()));
  }
  return out;
}

}  // namespace dsvl::runtime
