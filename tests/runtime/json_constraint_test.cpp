// JsonConstraint driving the Sampler over a real byte-level vocabulary with random logits
// (a stand-in for a random model): greedy, top-k and full-vocabulary sampling all end in a
// document that parses and matches the schema, within the token budget.
#include "runtime/json_constraint.h"

#include <gtest/gtest.h>

#include <random>

#include "io/synth.h"
#include "runtime/json_test_util.h"
#include "runtime/sampler.h"

namespace dsvl::runtime {
namespace {

const tokenizer::Tokenizer& small_tokenizer() {
  static const tokenizer::Tokenizer tok = [] {
    const io::TokenizerFiles f = io::build_small_tokenizer();
    return tokenizer::Tokenizer::from_json(f.tokenizer_json, f.tokenizer_config_json);
  }();
  return tok;
}

struct Outcome {
  std::string text;
  bool ended = false;  // EOS or complete() before the budget ran out
  int64_t tokens = 0;
};

Outcome run(std::shared_ptr<const json::Grammar> g, const SamplingParams& sp, int64_t max_tokens,
            uint64_t seed) {
  const auto& tok = small_tokenizer();
  const int64_t V = int64_t(tok.vocab_size()) + 7;  // padding rows, as models have
  auto vocab = std::make_shared<const TokenBytes>(tok, V);
  const int32_t eos = tok.eos_id();
  JsonConstraint c(std::move(g), vocab, eos);
  Sampler s(sp, V);
  s.set_constraint(&c);
  std::mt19937 rng{uint32_t(seed)};
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(static_cast<size_t>(V));
  Outcome r;
  for (int64_t step = 0; step < max_tokens; ++step) {
    for (float& l : logits) l = normal(rng);
    logits[size_t(eos)] -= 4.0f;  // a model rarely wants to stop
    c.begin_step(max_tokens - step - 1);
    const int32_t t = s.sample(logits.data());
    s.accept(t);
    c.accept(t);
    ++r.tokens;
    if (t == eos) {
      r.ended = true;
      break;
    }
    r.text += vocab->bytes(t);
    if (c.complete()) {
      r.ended = true;
      break;
    }
  }
  return r;
}

TEST(JsonConstraint, RandomLogitsAlwaysGiveValidDocuments) {
  const char* schemas[] = {R"({"type":"object"})", test::kRichSchema,
                           R"({"type":"object","properties":{"answer":{"enum":["yes","no"]},
                               "why":{"type":"string"}},"required":["answer","why"]})"};
  SamplingParams greedy;
  SamplingParams topk;
  topk.do_sample = true;
  topk.temperature = 1.0;
  topk.top_k = 40;
  SamplingParams full = topk;
  full.top_k = 0;
  full.top_p = 0.9;
  full.repetition_penalty = 1.3;
  int n = 0;
  for (const char* schema : schemas)
    for (const SamplingParams* sp : {&greedy, &topk, &full})
      for (int64_t max_tokens : {int64_t(60), int64_t(200)})
        for (uint64_t seed = 0; seed < 4; ++seed) {
          auto g = std::string(schema) == R"({"type":"object"})" ? json::object_grammar()
                                                                 : json::schema_grammar(schema);
          const Outcome r = run(g, *sp, max_tokens, seed + 100 * uint64_t(n++));
          const nlohmann::json v = nlohmann::json::parse(r.text, nullptr, false);
          ASSERT_FALSE(v.is_discarded()) << schema << "\n" << r.text;
          EXPECT_EQ(test::schema_mismatch(v, nlohmann::json::parse(schema)), "") << r.text;
          EXPECT_LE(r.tokens, max_tokens);
        }
}

TEST(JsonConstraint, SpecialTokensAndPaddingRowsHaveNoBytes) {
  const auto& tok = small_tokenizer();
  TokenBytes vocab(tok, int64_t(tok.vocab_size()) + 3);
  EXPECT_EQ(vocab.bytes(tok.eos_id()), "");
  EXPECT_EQ(vocab.bytes(tok.bos_id()), "");
  EXPECT_EQ(vocab.bytes(int32_t(tok.vocab_size()) + 1), "");
  const std::vector<int32_t> ids = tok.encode("{\"a\": 1}", false);
  std::string joined;
  for (int32_t id : ids) joined += vocab.bytes(id);
  EXPECT_EQ(joined, "{\"a\": 1}");
}

// The fast path for text inside strings agrees with running every token through the
// acceptor, in strings with and without length limits and under a tight budget.
TEST(JsonConstraint, FastStringPathAgreesWithTheAcceptor) {
  const auto& tok = small_tokenizer();
  const int64_t V = int64_t(tok.vocab_size());
  auto vocab = std::make_shared<const TokenBytes>(tok, V);
  auto g = json::schema_grammar(test::kRichSchema);
  for (const std::string prefix : {"{\"name\":\"", "{\"name\":\"abcdefghij", "{\"free\":{\"k",
                                   "{\"tags\":[\"xy", "{\"anything\":\"caf\xc3\xa9"})
    for (int64_t left : {int64_t(1000), int64_t(48), int64_t(40)}) {
      JsonConstraint c(g, vocab, tok.eos_id());
      json::Acceptor ref(*g);
      ASSERT_TRUE(ref.push(prefix));
      for (int32_t id : tok.encode(prefix, false)) c.accept(id);
      c.begin_step(left);
      const int64_t need = ref.min_bytes_to_end();
      const int64_t budget = need <= left + 1 ? left : need - 1;
      for (int32_t t = 0; t < int32_t(V); ++t) {
        if (t == tok.eos_id() || vocab->bytes(t).empty()) continue;
        json::Acceptor a = ref;
        const bool want = a.push(vocab->bytes(t)) && a.min_bytes_to_end() <= budget;
        ASSERT_EQ(c.allowed(t), want) << prefix << " + " << vocab->bytes(t) << " left " << left;
      }
    }
}

}  // namespace
}  // namespace dsvl::runtime
