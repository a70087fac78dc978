// score(): log-likelihood of a continuation equals the log-softmax of the golden logits at
// the positions before each token.
#include "runtime/scoring.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/shared.h"
#include "core/error.h"
#include "llm/golden.h"

namespace dsvl::runtime {
namespace {

TEST(Scoring, ContinuationLogLikelihoodMatchesGoldenLogits) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const char* name : {"a1_dog", "a5_text_only", "c1_monday_jpeg"}) {
    const test::KitCase c = test::load_kit_case(name);
    const llm::Llm& m = *test::kit_model(c.model).llm;
    const Tensor e = test::case_embeds(c, m);
    const std::vector<float> logits = test::golden_floats(*c.tensors, "logits");
    const int64_t T = int64_t(c.input_ids.size()), V = m.vocab_size();
    // The prompt is everything up to 12 tokens before the end (images included); the last 12
    // text ids are the continuation.
    const int64_t n_prompt = T - 12;
    const std::vector<int32_t> cont(c.input_ids.begin() + n_prompt, c.input_ids.end());
    const ScoreResult r = score(m, {e.ptr(), n_prompt, c.n_images}, cont);
    ASSERT_EQ(r.token_logprobs.size(), cont.size());
    double want_sum = 0.0;
    for (size_t i = 0; i < cont.size(); ++i) {
      const float* row = logits.data() + (n_prompt - 1 + int64_t(i)) * V;
      const double want = token_logprob(row, V, cont[i], 0, nullptr);
      want_sum += want;
      EXPECT_NEAR(r.token_logprobs[i], want, 1e-4) << name << " token " << i;
    }
    EXPECT_NEAR(r.sum_logprob, want_sum, 1e-3) << name;
    EXPECT_FALSE(r.greedy) << name;  // random prompt ids are not the model's argmax
  }
}

TEST(Scoring, GreedyContinuationIsGreedyWithGoldenLogprobs) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  const test::KitCase c = test::load_kit_case("b2_dog");
  const llm::Llm& m = *test::kit_model(c.model).llm;
  const Tensor e = test::case_embeds(c, m);
  const Prompt prompt{e.ptr(), e.shape[0], c.n_images};
  std::vector<int32_t> greedy;
  for (int64_t t : test::golden_ints(*c.tensors, "greedy.tokens")) greedy.push_back(int32_t(t));
  const std::vector<float> steps = test::golden_floats(*c.tensors, "greedy.step_logits");
  const int64_t V = m.vocab_size();

  const ScoreResult g = score(m, prompt, greedy);
  EXPECT_TRUE(g.greedy);
  for (size_t i = 0; i < greedy.size(); ++i)
    EXPECT_NEAR(g.token_logprobs[i],
                token_logprob(steps.data() + int64_t(i) * V, V, greedy[i], 0, nullptr), 1e-4);

  EXPECT_THROW(score(m, prompt, greedy, /*n_ctx=*/e.shape[0] + 3), LimitError);
}

TEST(Scoring, ChoicesOnOnePrefilledPromptEqualSeparateCalls) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  const test::KitCase c = test::load_kit_case("a5_text_only");
  const llm::Llm& m = *test::kit_model(c.model).llm;
  const Tensor e = test::case_embeds(c, m);
  const Prompt prompt{e.ptr(), e.shape[0], 0};
  std::vector<int32_t> greedy;
  for (int64_t t : test::golden_ints(*c.tensors, "greedy.tokens")) greedy.push_back(int32_t(t));
  const std::vector<std::vector<int32_t>> choices = {
      {greedy[0], greedy[1]}, {5, 6, 7}, greedy, {greedy[0]}, {}};
  const std::vector<ScoreResult> many = score_choices(m, prompt, choices);
  ASSERT_EQ(many.size(), choices.size());
  for (size_t i = 0; i < choices.size(); ++i) {
    const ScoreResult one = score(m, prompt, choices[i]);
    EXPECT_EQ(many[i].token_logprobs, one.token_logprobs) << "choice " << i;
    EXPECT_EQ(many[i].greedy, one.greedy);
  }
  EXPECT_TRUE(many[2].greedy);
  EXPECT_FALSE(many[1].greedy);
  EXPECT_TRUE(many[4].token_logprobs.empty());
  EXPECT_EQ(many[4].sum_logprob, 0.0);
}

}  // namespace
}  // namespace dsvl::runtime
