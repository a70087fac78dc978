// Every entry of ../shared/tokenizers/goldens/<name>.json must match the Rust `tokenizers`
// reference exactly: ids, ids_with_special, decoded, decoded_skip_special. Each tokenizer
// is loaded once per test (ctest runs every test in its own process).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/shared.h"
#include "tokenizer/tokenizer.h"

namespace {

using dsvl::tokenizer::Tokenizer;
using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

std::string show(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, AllEntriesMatchReference) {
  const std::string name = GetParam();
  std::string dir = dsvl::test::shared_path("tokenizers/" + name);
  std::string golden = dsvl::test::shared_path("tokenizers/goldens/" + name + ".json");
  if (dir.empty() || golden.empty()) GTEST_SKIP() << "../shared/tokenizers/" << name << " not found";
  Tokenizer tok = Tokenizer::load(dir);
  json g = read_json(golden);
  size_t n = 0, bad = 0;
  for (const auto& e : g["entries"]) {
    ++n;
    const std::string text = e["text"].get<std::string>();
    const std::string where = name + " entry " + e["id"].get<std::string>() + " " + json(text).dump();
    auto ids = tok.encode(text, false);
    auto ids_special = tok.encode(text, true);
    auto want_ids = e["ids"].get<std::vector<int32_t>>();
    auto want_special = e["ids_with_special"].get<std::vector<int32_t>>();
    bool ok = ids == want_ids && ids_special == want_special &&
              tok.decode(want_ids, false) == e["decoded"].get<std::string>() &&
              tok.decode(want_special, true) == e["decoded_skip_special"].get<std::string>();
    if (!ok && ++bad <= 10) {
      EXPECT_EQ(show(ids), show(want_ids)) << where;
      EXPECT_EQ(show(ids_special), show(want_special)) << where;
      EXPECT_EQ(tok.decode(want_ids, false), e["decoded"].get<std::string>()) << where;
      EXPECT_EQ(tok.decode(want_special, true), e["decoded_skip_special"].get<std::string>())
          << where;
    }
  }
  EXPECT_EQ(bad, 0u) << name << ": " << bad << " of " << n << " entries differ";
  EXPECT_EQ(n, g["count"].get<size_t>());
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, GoldenTest,
                         ::testing::Values("deepseek_vl", "deepseek_v3", "llama3", "qwen3",
                                           "gpt4o"));

// 46 vectors written by llama.cpp's converter with the original DeepSeek LLM tokenizer.
TEST(GoldenLlamaCpp, DeepSeekVectors) {
  std::string dir = dsvl::test::shared_path("tokenizers/deepseek_vl");
  std::string vectors =
      dsvl::test::shared_path("tokenizers/goldens/deepseek_llm_llamacpp_vectors.json");
  if (dir.empty() || vectors.empty()) GTEST_SKIP() << "../shared/tokenizers not found";
  Tokenizer tok = Tokenizer::load(dir);
  json g = read_json(vectors);
  size_t n = 0;
  for (const auto& e : g["entries"]) {
    ++n;
    auto want = e["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(show(tok.encode(e["text"].get<std::string>(), false)), show(want))
        << "vector " << e["id"].dump() << " " << e["text"].dump();
  }
  EXPECT_EQ(n, 46u);
}

}  // namespace
