// generate() on the conformance kit: greedy tokens and step logits as the goldens, stop
// conditions, logprobs, seeded sampling, and the context check.
#include "runtime/generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/shared.h"
#include "core/error.h"
#include "llm/golden.h"

namespace dsvl::runtime {
namespace {

struct Kit {
  test::KitCase c;
  const test::KitModel* m = nullptr;
  Tensor embeds;
  Prompt prompt() const { return {embeds.ptr(), embeds.shape[0], c.n_images}; }
};

Kit load(const std::string& name) {
  Kit k;
  k.c = test::load_kit_case(name);
  k.m = &test::kit_model(k.c.model);
  k.embeds = test::case_embeds(k.c, *k.m->llm);
  return k;
}

GenerateParams greedy16() {
  GenerateParams g;
  g.max_new_tokens = 16;
  g.eos_token_id = -1;  // the goldens do not stop at EOS
  return g;
}

std::vector<int32_t> golden_tokens(const Kit& k) {
  std::vector<int32_t> t;
  for (int64_t v : test::golden_ints(*k.c.tensors, "greedy.tokens")) t.push_back(int32_t(v));
  return t;
}

TEST(Generate, GreedyMatchesGoldenTokensAndStepLogits) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const char* name : {"a4_two_images", "a5_text_only", "b1_synth_rgb", "c1_monday_jpeg"}) {
    const Kit k = load(name);
    const std::vector<float> want = test::golden_floats(*k.c.tensors, "greedy.step_logits");
    const int64_t V = k.m->llm->vocab_size();
    GenerateParams g = greedy16();
    g.prefill_chunk = 97;
    const GenerateResult r = generate(*k.m->llm, k.prompt(), g, [&](const TokenEvent& e) {
      test::expect_close(std::string(name) + " step " + std::to_string(e.index), e.logits.data(),
                         want.data() + e.index * V, V, 1e-4);
      return true;
    });
    EXPECT_EQ(r.tokens, golden_tokens(k)) << name;
    EXPECT_EQ(r.stop_reason, StopReason::kMaxTokens);
    EXPECT_EQ(r.n_prompt, int64_t(k.c.input_ids.size()));
    // Logprobs of the chosen tokens from the golden step logits.
    for (size_t s = 0; s < r.tokens.size(); ++s)
      EXPECT_NEAR(r.logprobs[s], token_logprob(want.data() + s * V, V, r.tokens[s], 0, nullptr),
                  1e-4)
          << name << " step " << s;
  }
}

TEST(Generate, StopsOnEosStopTokenCallbackAndBudget) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  const Kit k = load("a1_dog");
  const std::vector<int32_t> gold = golden_tokens(k);
  const auto first = [&](int32_t t) {
    return size_t(std::find(gold.begin(), gold.end(), t) - gold.begin());
  };

  GenerateParams g = greedy16();
  g.eos_token_id = gold[5];
  GenerateResult r = generate(*k.m->llm, k.prompt(), g);
  EXPECT_EQ(r.stop_reason, StopReason::kEos);
  EXPECT_EQ(r.tokens.size(), first(gold[5]) + 1);  // the EOS is kept in the raw output
  EXPECT_EQ(r.tokens.back(), gold[5]);

  g = greedy16();
  g.stop_token_ids = {gold[9], 9999};
  int calls = 0;
  bool saw_stop = false;
  r = generate(*k.m->llm, k.prompt(), g, [&](const TokenEvent& e) {
    ++calls;
    saw_stop = e.is_stop;
    return true;
  });
  EXPECT_EQ(r.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(r.tokens.size(), first(gold[9]) + 1);
  EXPECT_EQ(calls, int(r.tokens.size()));
  EXPECT_TRUE(saw_stop);

  g = greedy16();
  r = generate(*k.m->llm, k.prompt(), g, [](const TokenEvent& e) { return e.index < 2; });
  EXPECT_EQ(r.stop_reason, StopReason::kCallback);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(gold.begin(), gold.begin() + 3));

  g.max_new_tokens = 4;
  r = generate(*k.m->llm, k.prompt(), g);
  EXPECT_EQ(r.stop_reason, StopReason::kMaxTokens);
  EXPECT_EQ(r.tokens, std::vector<int32_t>(gold.begin(), gold.begin() + 4));

  g.max_new_tokens = 0;
  r = generate(*k.m->llm, k.prompt(), g);
  EXPECT_TRUE(r.tokens.empty());
  EXPECT_STREQ(stop_reason_name(r.stop_reason), "length");
}

TEST(Generate, TopLogprobsAndSeededSampling) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  const Kit k = load("c2_gray_minsize");
  GenerateParams g = greedy16();
  g.max_new_tokens = 6;
  g.top_logprobs = 3;
  GenerateResult r = generate(*k.m->llm, k.prompt(), g);
  ASSERT_EQ(r.top_logprobs.size(), 6u);
  for (size_t s = 0; s < 6; ++s) {
    ASSERT_EQ(r.top_logprobs[s].size(), 3u);
    EXPECT_EQ(r.top_logprobs[s][0].token, r.tokens[s]);  // greedy picks the top entry
    EXPECT_FLOAT_EQ(r.top_logprobs[s][0].logprob, r.logprobs[s]);
    EXPECT_GE(r.top_logprobs[s][0].logprob, r.top_logprobs[s][1].logprob);
  }

  g.top_logprobs = 0;
  g.max_new_tokens = 12;
  g.sampling.do_sample = true;
  g.sampling.temperature = 1.5;
  g.sampling.top_p = 0.95;
  g.sampling.repetition_penalty = 1.1;
  g.sampling.seed = 7;
  const GenerateResult a = generate(*k.m->llm, k.prompt(), g);
  const GenerateResult b = generate(*k.m->llm, k.prompt(), g);
  EXPECT_EQ(a.tokens, b.tokens);
  g.sampling.seed = 8;
  const GenerateResult c = generate(*k.m->llm, k.prompt(), g);
  EXPECT_NE(a.tokens, c.tokens);
}

TEST(Generate, ContextOverflowIsRefusedWithTokenCounts) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  const Kit k = load("a4_two_images");  // 1199 tokens, 2 images
  GenerateParams g = greedy16();
  g.n_ctx = 1200;
  try {
    generate(*k.m->llm, k.prompt(), g);
    FAIL() << "no error";
  } catch (const LimitError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("prompt has 1199 tokens (2 images × 576 = 1152 image tokens + 47 text "
                       "tokens)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("context of 1200 tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("at most 1 new tokens"), std::string::npos) << msg;
  }
  const Kit small = load("a5_text_only");  // 43 tokens
  g.n_ctx = 43 + 16;                       // exactly fits
  EXPECT_EQ(generate(*small.m->llm, small.prompt(), g).tokens.size(), 16u);
  g.n_ctx = 43 + 15;
  EXPECT_THROW(generate(*small.m->llm, small.prompt(), g), LimitError);
  g.n_ctx = 16385;
  EXPECT_THROW(generate(*k.m->llm, k.prompt(), g), RequestError);
}

TEST(Generate, ContextDefaultsAndTheEightImageCase) {
  io::LlmConfig c;
  c.max_position_embeddings = 16384;
  EXPECT_EQ(resolve_context(c, 0), 4096);
  EXPECT_EQ(resolve_context(c, 16384), 16384);
  EXPECT_THROW(resolve_context(c, 16385), RequestError);
  c.max_position_embeddings = 2048;  // LlamaConfig's default when a config omits it
  EXPECT_EQ(resolve_context(c, 0), 2048);
  // The upstream report: 8 images gave 4749 tokens and garbage. We refuse it.
  try {
    check_context(4749, 8, 576, 512, 4096, 16384);
    FAIL() << "no error";
  } catch (const LimitError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("prompt has 4749 tokens (8 images × 576 = 4608 image tokens + 141 text "
                       "tokens)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("--ctx"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(check_context(3584, 1, 576, 512, 4096, 16384));
  EXPECT_THROW(check_context(0, 0, 576, 1, 4096, 16384), RequestError);
}

}  // namespace
}  // namespace dsvl::runtime
