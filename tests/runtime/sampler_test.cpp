// Sampler: each warper on known distributions, penalties, and seeded reproducibility.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "core/error.h"

namespace dsvl::runtime {
namespace {

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(float(std::log(x)));
  return l;
}

SamplingParams sampling(int top_k = 0, double top_p = 1.0, double min_p = 0.0, double temp = 1.0) {
  SamplingParams s;
  s.do_sample = true;
  s.top_k = top_k;
  s.top_p = top_p;
  s.min_p = min_p;
  s.temperature = temp;
  return s;
}

std::map<int32_t, float> dist(Sampler& s, const std::vector<float>& logits) {
  std::map<int32_t, float> m;
  for (const TokenProb& tp : s.distribution(logits.data())) m[tp.token] = tp.prob;
  return m;
}

// Empirical frequencies of n draws.
std::map<int32_t, double> draw(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<int32_t, double> f;
  for (int i = 0; i < n; ++i) f[s.sample(logits.data())] += 1.0 / n;
  return f;
}

const std::vector<double> kP = {0.05, 0.5, 0.15, 0.3};  // token 1 most likely, then 3, 2, 0

TEST(Sampler, GreedyIsArgmaxFirstOnTies) {
  Sampler s(SamplingParams{}, 5);  // HF default: do_sample false
  const std::vector<float> l = {1, 3, 2, 3, -1};
  EXPECT_EQ(s.sample(l.data()), 1);
  SamplingParams cold = sampling();
  cold.temperature = 0.0;  // cli_chat.py: temperature 0 means greedy
  Sampler c(cold, 5);
  EXPECT_EQ(c.sample(l.data()), 1);
  EXPECT_EQ(c.distribution(l.data()).size(), 1u);
}

TEST(Sampler, TopPKeepsExactlyTheNucleus) {
  const std::vector<float> l = log_probs(kP);
  {
    // Ascending cumulative: 0.05, 0.20, 0.50, 1.0; ≤ 0.25 dropped → tokens 1 and 3 remain.
    Sampler s(sampling(0, 0.75), 4);
    auto d = dist(s, l);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_NEAR(d[1], 0.5 / 0.8, 1e-6);
    EXPECT_NEAR(d[3], 0.3 / 0.8, 1e-6);
  }
  {
    Sampler s(sampling(0, 0.85), 4);  // drops only 0.05
    auto d = dist(s, l);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d.count(0), 0u);
  }
  {
    Sampler s(sampling(0, 0.01), 4);  // the top token always stays
    auto d = dist(s, l);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d.begin()->first, 1);
  }
  {
    Sampler s(sampling(0, 1.0), 4);
    EXPECT_EQ(dist(s, l).size(), 4u);
  }
}

TEST(Sampler, TopKKeepsKIncludingTies) {
  Sampler s(sampling(2), 5);
  auto d = dist(s, {0.f, 5.f, 1.f, 4.f, 4.f});
  // The 2nd largest is 4, held by two tokens: HF keeps every score ≥ it.
  ASSERT_EQ(d.size(), 3u);
  EXPECT_TRUE(d.count(1) && d.count(3) && d.count(4));
  Sampler one(sampling(1), 4);
  auto d1 = dist(one, log_probs(kP));
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_FLOAT_EQ(d1[1], 1.0f);
}

TEST(Sampler, MinPDropsBelowFractionOfTop) {
  Sampler s(sampling(0, 1.0, 0.5), 4);  // threshold 0.25
  auto d = dist(s, log_probs(kP));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[1], 0.625, 1e-6);
  EXPECT_NEAR(d[3], 0.375, 1e-6);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const std::vector<float> l = log_probs(kP);
  Sampler hot(sampling(0, 1.0, 0.0, 2.0), 4);
  auto d = dist(hot, l);
  double z = 0;
  for (double p : kP) z += std::sqrt(p);
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(d[t], std::sqrt(kP[size_t(t)]) / z, 1e-6) << t;
  Sampler cold(sampling(0, 1.0, 0.0, 0.5), 4);
  auto c = dist(cold, l);
  z = 0;
  for (double p : kP) z += p * p;
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(c[t], kP[size_t(t)] * kP[size_t(t)] / z, 1e-6) << t;
}

TEST(Sampler, WarperOrderTemperatureThenTopKThenTopP) {
  // Temperature 0.5 squares the probabilities; top-k 3 drops token 0; the nucleus is then
  // computed on p² over {1, 3, 2} = {0.690, 0.248, 0.062}: token 2's 0.062 ≤ 1 − 0.8 goes,
  // token 3 (cumulative 0.31) stays.
  Sampler s(sampling(3, 0.8, 0.0, 0.5), 4);
  auto d = dist(s, log_probs(kP));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[1], 0.25 / 0.34, 1e-6);
}

TEST(Sampler, RepetitionPenaltySeesGeneratedTokensOnly) {
  SamplingParams p;  // greedy, penalty still applies (HF processors run before argmax)
  p.repetition_penalty = 2.0;
  Sampler s(p, 3);
  const std::vector<float> l = {3.0f, 2.0f, -1.0f};
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);  // 3 → 1.5: now token 1 (2.0) wins
  EXPECT_EQ(s.sample(l.data()), 1);
  s.accept(0);  // counted twice, penalised once (HF gathers distinct ids)
  EXPECT_EQ(s.sample(l.data()), 1);
  // Negative logits are multiplied.
  SamplingParams q = sampling();
  q.repetition_penalty = 2.0;
  Sampler t(q, 3);
  t.accept(2);
  auto d = dist(t, l);
  const double z = std::exp(3.0) + std::exp(2.0) + std::exp(-2.0);
  EXPECT_NEAR(d[2], std::exp(-2.0) / z, 1e-6);
  t.reset();
  EXPECT_NEAR(dist(t, l)[2], std::exp(-1.0) / (std::exp(3.0) + std::exp(2.0) + std::exp(-1.0)),
              1e-6);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  SamplingParams p = sampling();
  p.presence_penalty = 0.5;
  p.frequency_penalty = 0.25;
  Sampler s(p, 3);
  s.accept(0);
  s.accept(0);
  s.accept(1);
  const std::vector<float> l = {1.0f, 1.0f, 1.0f};
  auto d = dist(s, l);
  // logits: 1 − 0.5 − 0.5 = 0, 1 − 0.5 − 0.25 = 0.25, 1.
  const double z = std::exp(0.0) + std::exp(0.25) + std::exp(1.0);
  EXPECT_NEAR(d[0], 1.0 / z, 1e-6);
  EXPECT_NEAR(d[1], std::exp(0.25) / z, 1e-6);
  EXPECT_NEAR(d[2], std::exp(1.0) / z, 1e-6);
}

TEST(Sampler, SeededDrawsAreReproducibleAndFollowTheDistribution) {
  const std::vector<float> l = log_probs(kP);
  SamplingParams p = sampling(0, 0.75);
  p.seed = 1234;
  Sampler a(p, 4), b(p, 4);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(l.data()));
    sb.push_back(b.sample(l.data()));
  }
  EXPECT_EQ(sa, sb);
  p.seed = 99;
  Sampler c(p, 4);
  std::vector<int32_t> sc;
  for (int i = 0; i < 200; ++i) sc.push_back(c.sample(l.data()));
  EXPECT_NE(sa, sc);
  a.reset();
  EXPECT_EQ(a.sample(l.data()), sa[0]);

  const auto f = draw(c, l, 100000);  // only the nucleus {1, 3}, at 0.625 / 0.375
  EXPECT_EQ(f.size(), 2u);
  EXPECT_NEAR(f.at(1), 0.625, 0.01);
  EXPECT_NEAR(f.at(3), 0.375, 0.01);
  Sampler full(sampling(), 4);
  const auto g = draw(full, l, 100000);
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(g.at(t), kP[size_t(t)], 0.01) << t;
}

TEST(Sampler, InvalidParametersAreRequestErrors) {
  SamplingParams p;
  p.top_p = 0.0;
  EXPECT_THROW(Sampler(p, 4), RequestError);
  p = {};
  p.temperature = -1;
  EXPECT_THROW(p.validate(), RequestError);
  p = {};
  p.top_k = -3;
  EXPECT_THROW(p.validate(), RequestError);
  p = {};
  p.repetition_penalty = 0;
  EXPECT_THROW(p.validate(), RequestError);
  p = {};
  p.min_p = 1.5;
  EXPECT_THROW(p.validate(), RequestError);
}

TEST(Logprobs, LogSoftmaxAndTopList) {
  const std::vector<float> l = log_probs(kP);
  std::vector<TopLogprob> top;
  const float lp = token_logprob(l.data(), 4, 2, 3, &top);
  EXPECT_NEAR(lp, std::log(0.15), 1e-6);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].token, 1);
  EXPECT_EQ(top[1].token, 3);
  EXPECT_EQ(top[2].token, 2);
  EXPECT_NEAR(top[0].logprob, std::log(0.5), 1e-6);
  // Ties: the smaller id first; n_top larger than the vocabulary is clamped.
  const std::vector<float> tie = {1.f, 2.f, 2.f};
  token_logprob(tie.data(), 3, 0, 5, &top);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].token, 1);
  EXPECT_EQ(top[1].token, 2);
  EXPECT_EQ(top[2].token, 0);
}

}  // namespace
}  // namespace dsvl::runtime
