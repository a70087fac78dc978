#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace dsvl::runtime {
namespace {

void require(bool ok, const char* field, double value, const char* range) {
  if (!ok)
    throw RequestError(std::string("sampling: ") + field + " = " + std::to_string(value) +
                       " is out of range (" + range + ")");
}

// softmax over scores[cand[i]] into probs, float32 like torch (sum accumulated in double).
void softmax(const std::vector<float>& scores, const std::vector<int32_t>& cand,
             std::vector<float>& probs) {
  probs.resize(cand.size());
  float mx = -INFINITY;
  for (int32_t t : cand) mx = std::max(mx, scores[size_t(t)]);
  double sum = 0.0;
  for (size_t i = 0; i < cand.size(); ++i)
    sum += (probs[i] = std::exp(scores[size_t(cand[i])] - mx));
  const float inv = float(1.0 / sum);
  for (float& p : probs) p *= inv;
}

}  // namespace

void SamplingParams::validate() const {
  require(std::isfinite(temperature) && temperature >= 0, "temperature", temperature, "≥ 0");
  require(top_k >= 0, "top_k", top_k, "≥ 0, 0 disables");
  require(top_p > 0 && top_p <= 1, "top_p", top_p, "(0, 1]");
  require(min_p >= 0 && min_p <= 1, "min_p", min_p, "[0, 1]");
  require(std::isfinite(repetition_penalty) && repetition_penalty > 0, "repetition_penalty",
          repetition_penalty, "> 0");
  require(std::isfinite(presence_penalty), "presence_penalty", presence_penalty, "finite");
  require(std::isfinite(frequency_penalty), "frequency_penalty", frequency_penalty, "finite");
}

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size)
    : params_(params), vocab_(vocab_size), rng_(params.seed) {
  params_.validate();
  counts_.assign(size_t(vocab_), 0);
  scores_.resize(size_t(vocab_));
  kth_.resize(size_t(vocab_));
  cand_.reserve(size_t(vocab_));
  probs_.reserve(size_t(vocab_));
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= vocab_) return;
  if (counts_[size_t(token)]++ == 0) seen_.push_back(token);
}

void Sampler::reset() {
  for (int32_t t : seen_) counts_[size_t(t)] = 0;
  seen_.clear();
  rng_.seed(params_.seed);
}

void Sampler::penalize(const float* logits) {
  std::copy(logits, logits + vocab_, scores_.begin());
  // HF RepetitionPenaltyLogitsProcessor: the penalty is a float32 scalar applied once per
  // distinct token, whatever its count.
  const float rep = float(params_.repetition_penalty);
  for (int32_t t : seen_) {
    float s = scores_[size_t(t)];
    if (rep != 1.0f) s = s < 0 ? s * rep : s / rep;
    s -= float(params_.presence_penalty) +
         float(params_.frequency_penalty) * float(counts_[size_t(t)]);
    scores_[size_t(t)] = s;
  }
}

int32_t Sampler::argmax() const {
  return int32_t(std::max_element(scores_.begin(), scores_.end()) - scores_.begin());
}

void Sampler::filter() {
  // Temperature (HF TemperatureLogitsWarper: scores / temperature, in float32).
  const float temp = float(params_.temperature);
  if (temp != 1.0f)
    for (float& s : scores_) s = s / temp;

  // Top-k (HF TopKLogitsWarper): keep every score ≥ the k-th largest, ties included.
  cand_.clear();
  float threshold = -INFINITY;
  if (params_.top_k > 0 && params_.top_k < vocab_) {
    std::copy(scores_.begin(), scores_.end(), kth_.begin());
    std::nth_element(kth_.begin(), kth_.begin() + (params_.top_k - 1), kth_.end(),
                     std::greater<float>());
    threshold = kth_[size_t(params_.top_k - 1)];
  }
  for (int64_t t = 0; t < vocab_; ++t)
    if (scores_[size_t(t)] >= threshold && scores_[size_t(t)] > -INFINITY)
      cand_.push_back(int32_t(t));
  if (cand_.empty()) cand_.push_back(argmax());  // all −inf: fall back to the first token
  // Best first; equal scores by token id, so the order (and the draw) is deterministic.
  std::sort(cand_.begin(), cand_.end(), [&](int32_t a, int32_t b) {
    const float sa = scores_[size_t(a)], sb = scores_[size_t(b)];
    return sa != sb ? sa > sb : a < b;
  });

  // Top-p (HF TopPLogitsWarper): with tokens sorted ascending, drop those whose cumulative
  // probability is ≤ 1 − top_p; the most likely token always stays. torch's cumsum
  // accumulates in double; the threshold is compared in float32.
  if (params_.top_p < 1.0) {
    softmax(scores_, cand_, probs_);
    const float limit = float(1.0 - params_.top_p);
    double cum = 0.0;
    size_t keep = cand_.size();
    for (size_t i = cand_.size(); i-- > 1;) {
      cum += probs_[i];
      if (float(cum) <= limit)
        keep = i;
      else
        break;
    }
    cand_.resize(keep);
  }

  // Min-p (HF MinPLogitsWarper): drop tokens with probability < min_p · (top probability).
  if (params_.min_p > 0.0) {
    softmax(scores_, cand_, probs_);
    const float limit = float(params_.min_p) * probs_[0];
    size_t keep = 1;
    while (keep < cand_.size() && !(probs_[keep] < limit)) ++keep;
    cand_.resize(keep);
  }
  softmax(scores_, cand_, probs_);
}

// Only the tokens the sampler could pick need checking: greedy takes the best allowed one,
// top-k the k best allowed ones. So the 64 best tokens are checked first (with a model that
// follows the format, that settles it); failing that, every token is checked (refusals are
// cheap: most fail on their first byte) and the best `need` allowed ones kept. Ties go to
// the smaller id, as argmax and filter() break them.
void Sampler::constrain() {
  TokenConstraint& c = *constraint_;
  const int64_t need = params_.greedy() ? 1 : params_.top_k > 0 ? params_.top_k : vocab_;
  auto better = [&](int32_t a, int32_t b) {
    const float sa = scores_[size_t(a)], sb = scores_[size_t(b)];
    return sa != sb ? sa > sb : a < b;
  };
  kept_.clear();
  bool settled = false;
  constexpr int64_t kWindow = 64;
  if (need < kWindow && kWindow < vocab_) {
    order_.resize(size_t(vocab_));
    for (int64_t t = 0; t < vocab_; ++t) order_[size_t(t)] = int32_t(t);
    std::nth_element(order_.begin(), order_.begin() + (kWindow - 1), order_.end(), better);
    std::sort(order_.begin(), order_.begin() + kWindow, better);
    settled = true;  // unless the window runs out before `need` allowed tokens are found
    for (int64_t i = 0; i < kWindow && int64_t(kept_.size()) < need; ++i) {
      const int32_t t = order_[size_t(i)];
      if (scores_[size_t(t)] == -INFINITY) break;  // the rest are −inf too
      if (c.allowed(t)) kept_.push_back({t, scores_[size_t(t)]});
      if (i == kWindow - 1 && int64_t(kept_.size()) < need) settled = false;
    }
  }
  if (!settled) {
    kept_.clear();
    for (int64_t t = 0; t < vocab_; ++t)
      if (scores_[size_t(t)] > -INFINITY && c.allowed(int32_t(t)))
        kept_.push_back({int32_t(t), scores_[size_t(t)]});
    if (int64_t(kept_.size()) > need) {
      auto by_score = [&](const std::pair<int32_t, float>& a, const std::pair<int32_t, float>& b) {
        return better(a.first, b.first);
      };
      std::nth_element(kept_.begin(), kept_.begin() + (need - 1), kept_.end(), by_score);
      kept_.resize(size_t(need));
    }
  }
  std::fill(scores_.begin(), scores_.end(), -INFINITY);
  if (kept_.empty()) {
    const int32_t f = c.fallback();
    if (f >= 0 && f < vocab_) scores_[size_t(f)] = 0.0f;
    return;
  }
  for (auto [t, s] : kept_) scores_[size_t(t)] = s;
}

int32_t Sampler::sample(const float* logits) {
  penalize(logits);
  if (constraint_) constrain();
  if (params_.greedy()) return argmax();
  filter();
  // Inverse-CDF draw over the candidates (best first) with a 53-bit uniform.
  const double u = double(rng_() >> 11) * 0x1.0p-53;
  double total = 0.0;
  for (float p : probs_) total += p;
  double cum = 0.0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    cum += probs_[i];
    if (u * total < cum) return cand_[i];
  }
  return cand_.back();
}

std::vector<TokenProb> Sampler::distribution(const float* logits) {
  penalize(logits);
  if (constraint_) constrain();
  if (params_.greedy()) return {{argmax(), 1.0f}};
  filter();
  std::vector<TokenProb> out(cand_.size());
  for (size_t i = 0; i < cand_.size(); ++i) out[i] = {cand_[i], probs_[i]};
  return out;
}

float token_logprob(const float* logits, int64_t vocab, int32_t token, int n_top,
                    std::vector<TopLogprob>* top) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - double(mx));
  const double lse = double(mx) + std::log(sum);
  if (top && n_top > 0) {
    // Insertion into a short sorted list: no allocation beyond *top, O(vocab) for small n_top.
    // Ids are visited in increasing order and only a strictly larger logit displaces, so
    // ties keep the smaller id first.
    const size_t k = size_t(std::min<int64_t>(n_top, vocab));
    top->assign(k, {-1, -INFINITY});
    for (int64_t i = 0; i < vocab; ++i) {
      if (!(logits[i] > (*top)[k - 1].logprob)) continue;
      size_t j = k - 1;
      while (j > 0 && logits[i] > (*top)[j - 1].logprob) {
        (*top)[j] = (*top)[j - 1];
        --j;
      }
      (*top)[j] = {int32_t(i), logits[i]};
    }
    for (TopLogprob& t : *top) t.logprob = float(double(t.logprob) - lse);
  }
  if (token < 0 || token >= vocab) return -INFINITY;
  return float(double(logits[token]) - lse);
}

}  // namespace dsvl::runtime
