// Scoring: the log-likelihood of a given continuation after a prompt, without sampling —
// the paper's multiple-choice evaluation (MCPPL) and logprob APIs. Token i of the
// continuation is scored with the logits of the position before it:
//   logprob_i = log_softmax(logits[n_prompt − 1 + i])[continuation[i]]
// over the raw float32 logits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "llm/llm.h"
#include "runtime/generate.h"

namespace dsvl::runtime {

struct ScoreResult {
  std::vector<float> token_logprobs;  // one per continuation token
  double sum_logprob = 0.0;           // Σ token_logprobs, accumulated in double
  bool greedy = true;  // every continuation token was the argmax (lm-eval's "is_greedy")
};

// LimitError when prompt + continuation exceed the context (n_ctx 0 → default).
ScoreResult score(const llm::Llm& llm, const Prompt& prompt, std::span<const int32_t> continuation,
                  int64_t n_ctx = 0);

// Several continuations of one prompt: the prompt is prefilled once and its cache reused.
// Equal to calling score() for each.
std::vector<ScoreResult> score_choices(const llm::Llm& llm, const Prompt& prompt,
                                       const std::vector<std::vector<int32_t>>& continuations,
                                       int64_t n_ctx = 0);

}  // namespace dsvl::runtime
