// Batched generation equals running each sequence alone: the same tokens, the same logits.
#include "runtime/batch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/shared.h"
#include "llm/golden.h"
#include "llm/random_model.h"

namespace dsvl::runtime {
namespace {

struct Recorded {
  GenerateResult result;
  std::vector<std::vector<float>> step_logits;
};

TokenCallback recorder(Recorded* run) {
  return [run](const TokenEvent& e) {
    run->step_logits.emplace_back(e.logits.begin(), e.logits.end());
    return true;
  };
}

void expect_same(const Recorded& alone, const Recorded& batched, const std::string& what) {
  EXPECT_EQ(batched.result.tokens, alone.result.tokens) << what;
  EXPECT_EQ(batched.result.stop_reason, alone.result.stop_reason) << what;
  EXPECT_EQ(batched.result.logprobs, alone.result.logprobs) << what;
  ASSERT_EQ(batched.step_logits.size(), alone.step_logits.size()) << what;
  for (size_t s = 0; s < alone.step_logits.size(); ++s)
    EXPECT_TRUE(test::close_rel_to_max(what + " step " + std::to_string(s),
                                       batched.step_logits[s].data(), alone.step_logits[s].data(),
                                       int64_t(alone.step_logits[s].size()), 1e-6));
}

TEST(Batch, GenerateBatchEqualsEachSequenceAlone) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  // Four prompts of one model, lengths 624 / 620 / 1199 / 43, different settings and budgets
  // so that sequences leave the batch at different steps.
  const std::vector<std::string> names = {"a1_dog", "a3_logo_rgba", "a4_two_images",
                                          "a5_text_only"};
  std::vector<test::KitCase> cases;
  std::vector<Tensor> embeds;
  std::vector<BatchRequest> requests;
  for (size_t i = 0; i < names.size(); ++i) {
    cases.push_back(test::load_kit_case(names[i]));
    embeds.push_back(test::case_embeds(cases.back(), *test::kit_model("tiny-hybrid-a").llm));
    BatchRequest r;
    r.prompt = {embeds.back().ptr(), embeds.back().shape[0], cases.back().n_images};
    r.params.max_new_tokens = 16 - 3 * int64_t(i);
    r.params.eos_token_id = -1;
    r.params.prefill_chunk = 128;
    if (i == 1) {
      r.params.sampling.do_sample = true;
      r.params.sampling.temperature = 0.8;
      r.params.sampling.top_k = 20;
      r.params.sampling.repetition_penalty = 1.1;
      r.params.sampling.seed = 42;
    }
    requests.push_back(r);
  }
  const llm::Llm& m = *test::kit_model("tiny-hybrid-a").llm;

  std::vector<Recorded> alone(requests.size()), batched(requests.size());
  for (size_t i = 0; i < requests.size(); ++i)
    alone[i].result = generate(m, requests[i].prompt, requests[i].params, recorder(&alone[i]));
  std::vector<BatchRequest> with_recorders = requests;
  for (size_t i = 0; i < requests.size(); ++i) with_recorders[i].on_token = recorder(&batched[i]);
  std::vector<GenerateResult> out = generate_batch(m, with_recorders);
  ASSERT_EQ(out.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    batched[i].result = std::move(out[i]);
    expect_same(alone[i], batched[i], names[i]);
  }
  // The greedy ones also match the goldens.
  for (size_t i : {size_t(0), size_t(2), size_t(3)}) {
    const std::vector<int64_t> gold = test::golden_ints(*cases[i].tensors, "greedy.tokens");
    for (size_t s = 0; s < batched[i].result.tokens.size(); ++s)
      EXPECT_EQ(batched[i].result.tokens[s], gold[s]) << names[i] << " step " << s;
  }
}

TEST(Batch, DecoderAcceptsSequencesJoiningLater) {
  if (test::kit_case_names().empty()) GTEST_SKIP() << "../shared/conformance not found";
  const llm::Llm& m = *test::kit_model("tiny-siglip-c").llm;
  const test::KitCase c1 = test::load_kit_case("c1_monday_jpeg");
  const test::KitCase c2 = test::load_kit_case("c2_gray_minsize");
  const Tensor e1 = test::case_embeds(c1, m), e2 = test::case_embeds(c2, m);
  GenerateParams g;
  g.max_new_tokens = 10;
  g.eos_token_id = -1;
  const Prompt p1{e1.ptr(), e1.shape[0], 1}, p2{e2.ptr(), e2.shape[0], 1};
  const GenerateResult a1 = generate(m, p1, g), a2 = generate(m, p2, g);

  // Sequence 2 joins after sequence 1 has made 4 steps (continuous batching).
  Sequence s1(m, p1, g), s2(m, p2, g);
  BatchDecoder dec(m, 2, 700);
  Sequence* first[] = {&s1};
  dec.prefill(first);
  for (int i = 0; i < 4; ++i) dec.step(first);
  Sequence* second[] = {&s2};
  dec.prefill(second);
  Sequence* both[] = {&s1, &s2};
  while (!s1.done() || !s2.done()) dec.step(both);
  EXPECT_EQ(s1.result().tokens, a1.tokens);
  EXPECT_EQ(s2.result().tokens, a2.tokens);
  EXPECT_EQ(s1.result().logprobs, a1.logprobs);
  EXPECT_EQ(s2.result().logprobs, a2.logprobs);
}

// The bf16 path with its bf16 KV cache (head_dim 128, the real models' width): batched
// generation gives the same logits bit for bit as each sequence alone.
TEST(Batch, Bf16CacheBatchEqualsEachSequenceAloneBitForBit) {
  const io::LlmConfig c{.vocab_size = 211,
                        .hidden_size = 256,
                        .intermediate_size = 160,
                        .num_hidden_layers = 2,
                        .num_attention_heads = 2,
                        .num_key_value_heads = 2,
                        .max_position_embeddings = 256};
  const auto m = llm::load_in_memory(c, llm::make_random_llm_weights(c, DType::kBF16, 7),
                                     kernels::Precision::kBF16);
  std::vector<std::vector<float>> embeds;
  std::vector<BatchRequest> requests;
  for (int64_t n : {41, 7, 90}) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = int32_t((i * 31 + n) % c.vocab_size);
    embeds.emplace_back(size_t(n * c.hidden_size));
    m->embed(ids.data(), n, embeds.back().data());
  }
  for (size_t i = 0; i < embeds.size(); ++i) {
    BatchRequest r;
    r.prompt = {embeds[i].data(), int64_t(embeds[i].size()) / c.hidden_size, 0};
    r.params.max_new_tokens = 12 - 3 * int64_t(i);
    r.params.eos_token_id = -1;
    r.params.prefill_chunk = 32;
    requests.push_back(r);
  }
  std::vector<Recorded> alone(requests.size()), batched(requests.size());
  for (size_t i = 0; i < requests.size(); ++i)
    alone[i].result = generate(*m, requests[i].prompt, requests[i].params, recorder(&alone[i]));
  std::vector<BatchRequest> with_recorders = requests;
  for (size_t i = 0; i < requests.size(); ++i) with_recorders[i].on_token = recorder(&batched[i]);
  std::vector<GenerateResult> out = generate_batch(*m, with_recorders);
  ASSERT_EQ(out.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(out[i].tokens, alone[i].result.tokens) << i;
    EXPECT_EQ(batched[i].step_logits, alone[i].step_logits) << i;
  }
}

}  // namespace
}  // namespace dsvl::runtime
