// dsvl::Engine (include/dsvl/dsvl.h) on tiny synth models with random weights, with the
// built-in small tokenizer and with the real DeepSeek tokenizer (../shared):
//   - response_format output always parses and matches the schema;
//   - the prefix cache changes nothing but the work done (same greedy output as without);
//   - an image already in the image-embedding cache is never encoded again, and gives the
//     same output as when it was encoded;
//   - requests decoded together (continuous batching, parallel 4) give the same greedy
//     outputs as the same requests one by one.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <tuple>

#include "common/shared.h"
#include "dsvl/dsvl.h"
#include "io/synth.h"
#include "runtime/json_test_util.h"

namespace dsvl {
namespace {

using nlohmann::json;

// A tiny synth 1.3b-chat folder, made once per process. "" when the real tokenizer is asked
// for and ../shared is missing.
std::string tiny_model(bool real_tokenizer) {
  static std::map<bool, std::string> dirs;
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  auto it = dirs.find(real_tokenizer);
  if (it != dirs.end()) return it->second;
  io::SynthOptions o;
  o.like = "1.3b-chat";
  o.tiny = true;
  o.seed = 3;
  o.out_dir = test::temp_dir(real_tokenizer ? "engine-real-tok" : "engine-small-tok");
  if (real_tokenizer) {
    o.tokenizer_dir = test::shared_path("tokenizers/deepseek_vl");
    if (o.tokenizer_dir.empty()) return dirs[real_tokenizer] = "";
  }
  io::synth_model(o);
  return dirs[real_tokenizer] = o.out_dir;
}

// Engines with 4 slots, with or without the prefix cache, loaded once per model and shared
// by the tests (loading the real tokenizer is the slow part). The prefix cache never changes
// results, so what one test leaves in it cannot affect another.
Engine& engine(const std::string& dir, bool prefix_cache) {
  static std::map<std::pair<std::string, bool>, std::unique_ptr<Engine>> engines;
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  auto& e = engines[{dir, prefix_cache}];
  if (!e) {
    LoadParams p;
    p.model_dir = dir;
    p.parallel = 4;
    p.ctx = 2048;
    p.prefix_cache_tokens = prefix_cache ? 4096 : 0;
    e = Engine::load(p);
  }
  return *e;
}

Request chat(std::vector<Message> messages, int max_tokens, float temperature = 0.0f,
             uint64_t seed = 0) {
  Request r;
  r.messages = std::move(messages);
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.sampling.max_tokens = max_tokens;
  return r;
}

Message user(const std::string& text) { return {"user", text, {}}; }

// A small PNG (solid colour), encoded by hand so the test needs no files.
std::string tiny_png(char red = char(200));

// Submits all requests at once and waits for every result (in request order).
std::vector<Result> run_together(Engine& e, const std::vector<Request>& rs) {
  std::vector<std::promise<Result>> done(rs.size());
  std::vector<std::future<Result>> futures;
  for (auto& d : done) futures.push_back(d.get_future());
  for (size_t i = 0; i < rs.size(); ++i)
    e.submit(rs[i], {}, [&done, i](const Result& r) { done[i].set_value(r); });
  std::vector<Result> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

class EngineTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = tiny_model(GetParam());
    if (dir_.empty()) GTEST_SKIP() << "../shared/tokenizers/deepseek_vl not found";
  }
  std::string dir_;
};

TEST_P(EngineTest, ResponseFormatOutputParsesAndMatchesTheSchema) {
  Engine& e = engine(dir_, true);
  const char* schemas[] = {"", test::kRichSchema,
                           R"({"type":"object","properties":{"answer":{"enum":["yes","no"]},
                               "n":{"type":"integer"}},"required":["answer","n"]})"};
  std::vector<Request> rs;
  std::vector<std::string> want_schema;
  for (const char* schema : schemas)
    for (float temp : {0.0f, 1.0f})
      for (int max_tokens : {64, 160}) {
        if (GetParam() && max_tokens == 64) continue;  // fewer cases with the 100k vocabulary
        Request r = chat({user("Give me JSON.")}, max_tokens, temp, uint64_t(rs.size()));
        r.sampling.response_format = *schema ? "json_schema" : "json_object";
        r.sampling.json_schema = schema;
        r.sampling.top_k = GetParam() ? 40 : 0;  // 0: the whole vocabulary is checked
        rs.push_back(r);
        want_schema.push_back(*schema ? schema : R"({"type":"object"})");
      }
  const std::vector<Result> out = run_together(e, rs);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NE(out[i].finish_reason, "error") << out[i].error;
    const json v = json::parse(out[i].text, nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << want_schema[i] << "\n"
                                   << out[i].text << "\n"
                                   << out[i].finish_reason << " " << out[i].usage.completion_tokens
                                   << "/" << rs[i].sampling.max_tokens;
    EXPECT_EQ(test::schema_mismatch(v, json::parse(want_schema[i])), "") << out[i].text;
    EXPECT_LE(out[i].usage.completion_tokens, rs[i].sampling.max_tokens);
  }
  Request bad = chat({user("x")}, 8);
  bad.sampling.response_format = "json_schema";
  bad.sampling.json_schema = R"({"$ref": "#/x"})";
  EXPECT_THROW(e.submit(bad, {}, {}), Error);
}

TEST_P(EngineTest, PrefixCacheGivesTheSameGreedyOutput) {
  Engine &cached = engine(dir_, true), &plain = engine(dir_, false);
  Message with_image = user("<image_placeholder>What is this?");
  with_image.images.push_back({"", tiny_png(), "png"});
  std::vector<Message> turn1 = {with_image};
  const Result a1 = cached.generate(chat(turn1, 12));
  const Result b1 = plain.generate(chat(turn1, 12));
  EXPECT_EQ(a1.text, b1.text);
  std::vector<Message> turn2 = turn1;
  turn2.push_back({"assistant", a1.text, {}});
  turn2.push_back(user("And what else?"));
  const Result a2 = cached.generate(chat(turn2, 12));
  const Result b2 = plain.generate(chat(turn2, 12));
  EXPECT_EQ(a2.text, b2.text);
  EXPECT_EQ(a2.usage.prompt_tokens, b2.usage.prompt_tokens);
  // At least the system prompt and the image are reused.
  EXPECT_GT(a2.usage.cached_prompt_tokens, 576);
  EXPECT_EQ(b2.usage.cached_prompt_tokens, 0);
  // The same request again reuses all but the last prompt position.
  const Result a3 = cached.generate(chat(turn2, 12));
  EXPECT_EQ(a3.text, a2.text);
  EXPECT_EQ(a3.usage.cached_prompt_tokens, a3.usage.prompt_tokens - 1);
  EXPECT_GT(cached.stats().prefix_cache_hit_tokens, 0);
}

TEST_P(EngineTest, BatchedEqualsSequential) {
  const std::vector<std::string> prompts = {
      "Name a color.",     "Name a fruit.",
      "What is 2+2?",      "Say something nice about the weather today.",
      "Describe the sky.", "Name a city."};
  for (bool prefix_cache : {false, true}) {
    Engine& e = engine(dir_, prefix_cache);
    std::vector<Request> rs;
    for (size_t i = 0; i < prompts.size(); ++i)
      rs.push_back(chat({user(prompts[i])}, 10 + int(i) * 3));  // different lengths: slots free
    std::vector<Result> one_by_one;
    for (const Request& r : rs) one_by_one.push_back(e.generate(r));
    const std::vector<Result> together = run_together(e, rs);
    for (size_t i = 0; i < rs.size(); ++i) {
      EXPECT_EQ(together[i].text, one_by_one[i].text) << prompts[i];
      EXPECT_EQ(together[i].usage.completion_tokens, one_by_one[i].usage.completion_tokens);
    }
  }
}

TEST_P(EngineTest, ImageCacheHitIsNeverEncodedAgain) {
  // Without the prefix cache every request looks all its images up in the image cache.
  Engine& e = engine(dir_, false);
  // Colours no other test uses, so that the shared engine has not seen these images.
  const std::string a = tiny_png(char(11)), b = tiny_png(char(12));
  auto ask = [&](const std::string& text, std::vector<std::string> images) {
    Message m = user(text);
    for (auto& bytes : images) m.images.push_back({"", bytes, "png"});
    const Engine::Stats before = e.stats();
    const Result r = e.generate(chat({m}, 4));
    EXPECT_NE(r.finish_reason, "error") << r.error;
    const Engine::Stats after = e.stats();
    return std::tuple{r.text, after.image_cache_misses - before.image_cache_misses,
                      after.image_cache_hits - before.image_cache_hits};
  };
  const auto [first, misses1, hits1] = ask("What is this?", {a});
  EXPECT_EQ(misses1, 1);  // encoded once
  EXPECT_EQ(hits1, 0);
  const auto [again, misses2, hits2] = ask("What is this?", {a});
  EXPECT_EQ(misses2, 0);  // not encoded again
  EXPECT_EQ(hits2, 1);
  EXPECT_EQ(again, first);  // the cached embeddings are the encoded ones
  // A request holding a cached image and a new one twice encodes the new one once
  // (three images fill 1728 of the 2048 positions).
  const auto [text3, misses3, hits3] =
      ask("<image_placeholder><image_placeholder><image_placeholder>Compare.", {b, a, b});
  EXPECT_EQ(misses3, 1);
  EXPECT_EQ(hits3, 2);
  (void)text3;
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, EngineTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "DeepSeek" : "Small"; });

// Synth models are F16 (as the released config says float16): auto runs them on the bf16 path;
// --precision f32 forces the exact one. ModelInfo reports what is in use.
TEST(EnginePrecision, AutoIsBf16ForF16CheckpointsAndF32CanBeForced) {
  const std::string dir = tiny_model(false);
  EXPECT_EQ(engine(dir, false).info().precision, "bf16");
  LoadParams p;
  p.model_dir = dir;
  p.ctx = 256;
  p.precision = Precision::kF32;
  EXPECT_EQ(Engine::load(p)->info().precision, "f32");
}

// PNG writer (stored deflate blocks, no zlib needed): 16×16 RGB, one colour.
uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}
std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}
std::string tiny_png(char red) {
  const int w = 16, h = 16;
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += char(0);
    for (int x = 0; x < w; ++x) raw += std::string{red, char(40), char(90)};
  }
  uint32_t a = 1, b = 0;  // adler32
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  const uint16_t n = uint16_t(raw.size());
  std::string z = {char(0x78),
                   char(0x01),
                   char(1),
                   char(n & 0xFF),
                   char(n >> 8),
                   char(~n & 0xFF),
                   char((~n >> 8) & 0xFF)};
  z += raw + be32((b << 16) | a);
  std::string ihdr = be32(w) + be32(h) + std::string{char(8), char(2), char(0), char(0), char(0)};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) +
         chunk("IEND", "");
}

}  // namespace
}  // namespace dsvl
