#include "runtime/scoring.h"

#include <algorithm>

#include "core/error.h"

namespace dsvl::runtime {
namespace {

// Adds the score of continuation token `token` from `logits` [vocab].
void add_token(const float* logits, int64_t vocab, int32_t token, ScoreResult& r) {
  const float lp = token_logprob(logits, vocab, token, 0, nullptr);
  r.token_logprobs.push_back(lp);
  r.sum_logprob += double(lp);
  // Strictly greater elsewhere breaks greediness; ties count as greedy.
  const float mine = logits[token];
  for (int64_t i = 0; i < vocab && r.greedy; ++i)
    if (logits[i] > mine) r.greedy = false;
}

// Checks the request and returns the cache size it needs.
int64_t checked_capacity(const llm::Llm& llm, const Prompt& prompt, int64_t longest,
                         int64_t n_ctx) {
  const int64_t ctx = resolve_context(llm.config(), n_ctx);
  // The continuation's last token is never fed, but it occupies a position of the text.
  check_context(prompt.n_tokens, prompt.n_images, llm.image_tokens(), longest, ctx,
                llm.config().max_position_embeddings);
  if (!prompt.embeds) throw RequestError("prompt without embeddings");
  return std::max<int64_t>(1, prompt.n_tokens + longest);
}

class Scorer {
 public:
  Scorer(const llm::Llm& llm, const Prompt& prompt, int64_t longest, int64_t n_ctx)
      : llm_(llm),
        prompt_(prompt),
        kv_(llm.config(), checked_capacity(llm, prompt, longest, n_ctx), kv_dtype(llm.precision())),
        ws_(llm.config(), kChunk, kv_.capacity()),
        logits_(size_t(kChunk * llm.vocab_size())),
        last_logits_(size_t(llm.vocab_size())),
        x_(size_t(kChunk * llm.hidden_size())) {
    llm_.forward(prompt.embeds, prompt.n_tokens, kv_.view(), ws_, prompt.n_tokens - 1,
                 last_logits_.data());
  }

  ScoreResult score(std::span<const int32_t> cont) {
    kv_.truncate(prompt_.n_tokens);
    const int64_t V = llm_.vocab_size(), n = int64_t(cont.size());
    ScoreResult r;
    if (n == 0) return r;
    add_token(last_logits_.data(), V, cont[0], r);
    // Feed continuation tokens 0 … n−2 in chunks; each row's logits score the next token.
    for (int64_t i = 0; i + 1 < n; i += kChunk) {
      const int64_t m = std::min(kChunk, n - 1 - i);
      llm_.embed(cont.data() + i, m, x_.data());
      llm_.forward(x_.data(), m, kv_.view(), ws_, 0, logits_.data());
      for (int64_t j = 0; j < m; ++j)
        add_token(logits_.data() + j * V, V, cont[size_t(i + j + 1)], r);
    }
    return r;
  }

 private:
  static constexpr int64_t kChunk = 128;
  const llm::Llm& llm_;
  Prompt prompt_;
  KvCache kv_;
  llm::Workspace ws_;
  std::vector<float> logits_;       // [kChunk, vocab]
  std::vector<float> last_logits_;  // the prompt's last position [vocab]
  std::vector<float> x_;            // continuation embeddings [kChunk, hidden]
};

}  // namespace

ScoreResult score(const llm::Llm& llm, const Prompt& prompt, std::span<const int32_t> continuation,
                  int64_t n_ctx) {
  Scorer s(llm, prompt, int64_t(continuation.size()), n_ctx);
  return s.score(continuation);
}

std::vector<ScoreResult> score_choices(const llm::Llm& llm, const Prompt& prompt,
                                       const std::vector<std::vector<int32_t>>& continuations,
                                       int64_t n_ctx) {
  int64_t longest = 0;
  for (const auto& c : continuations) longest = std::max<int64_t>(longest, int64_t(c.size()));
  Scorer s(llm, prompt, longest, n_ctx);
  std::vector<ScoreResult> out;
  for (const auto& c : continuations) out.push_back(s.score(c));
  return out;
}

}  // namespace dsvl::runtime
