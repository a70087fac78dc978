// Choosing the next token from the model's logits, with Hugging Face generate() semantics
// (spec §7). Processing order, as HF applies its logits processors and then its warpers:
//   1. repetition penalty over the *generated* tokens only (the prompt is passed as
//      embeddings, so HF's input_ids start empty): positive logits ÷ p, negative × p;
//   2. presence / frequency penalties (OpenAI semantics, not in HF; applied with 1.):
//      logit −= presence·[count > 0] + frequency·count;
//   3. greedy (do_sample false or temperature ≤ 0): argmax, first index on ties; else
//   4. temperature → top-k → top-p → min-p, then a draw from the remaining softmax.
// The random stream is our own (std::mt19937_64): a seed reproduces our samples exactly,
// never torch's.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace dsvl::runtime {

struct SamplingParams {
  bool do_sample = false;           // HF default: greedy
  double temperature = 1.0;         // ≤ 0 → greedy even with do_sample (cli_chat.py's rule)
  int top_k = 50;                   // HF default; 0 disables
  double top_p = 1.0;               // 1 disables
  double min_p = 0.0;               // 0 disables
  double repetition_penalty = 1.0;  // 1 disables
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  uint64_t seed = 0;

  bool greedy() const { return !do_sample || temperature <= 0.0; }
  // RequestError naming the field for out-of-range values.
  void validate() const;
};

struct TokenProb {
  int32_t token;
  float prob;
};

struct TopLogprob {
  int32_t token;
  float logprob;
};

// Restricts which tokens may come next (grammar-constrained decoding: json_constraint.h).
// The sampler asks allowed() for candidates, most likely first, and picks only among the
// allowed ones; the Sequence tells the constraint each step's budget and the chosen token.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // A new step; `tokens_left` tokens may follow the one about to be chosen.
  virtual void begin_step(int64_t tokens_left) = 0;
  virtual bool allowed(int32_t token) = 0;
  // The token to take when none is allowed (normally EOS).
  virtual int32_t fallback() const = 0;
  virtual void accept(int32_t token) = 0;
  // The output is whole and nothing may follow: generation ends without another step.
  virtual bool complete() const = 0;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t vocab_size);

  // Every later sample() and distribution() draws only among the tokens `c` allows (with
  // the same processing otherwise); nullptr lifts the restriction. Not owned.
  void set_constraint(TokenConstraint* c) { constraint_ = c; }

  const SamplingParams& params() const { return params_; }

  // The next token for these raw logits [vocab] (not modified). Deterministic given the seed
  // and the sequence of calls.
  int32_t sample(const float* logits);
  // Records a generated token for the penalties.
  void accept(int32_t token);
  // Forgets generated tokens and restarts the random stream from the seed.
  void reset();

  // The distribution sample() draws from, most likely first, probabilities summing to 1
  // (greedy: the argmax with probability 1). Uses no randomness.
  std::vector<TokenProb> distribution(const float* logits);

 private:
  void penalize(const float* logits);  // steps 1–2 into scores_
  int32_t argmax() const;
  void filter();     // step 4 on scores_ → cand_ (+ probs_)
  void constrain();  // −inf on scores_ of the tokens constraint_ refuses (see sampler.cpp)

  SamplingParams params_;
  int64_t vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> counts_;  // per token, how often it was generated
  std::vector<int32_t> seen_;    // distinct generated tokens, in order of appearance
  std::vector<float> scores_;    // processed logits [vocab]
  std::vector<float> kth_;       // top-k selection scratch [vocab]
  std::vector<int32_t> cand_;    // surviving tokens, best first
  std::vector<float> probs_;     // softmax over cand_
  TokenConstraint* constraint_ = nullptr;
  std::vector<int32_t> order_;  // constrain(): tokens best first
  std::vector<std::pair<int32_t, float>> kept_;
};

// log_softmax(logits)[token] of the raw logits (no penalties or temperature), and the `n_top`
// most likely tokens with their log-probabilities (best first) into *top when n_top > 0.
float token_logprob(const float* logits, int64_t vocab, int32_t token, int n_top,
                    std::vector<TopLogprob>* top);

}  // namespace dsvl::runtime
