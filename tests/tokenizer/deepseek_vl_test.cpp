// The DeepSeek-VL tokenizer beyond single encode calls: streaming decode, one Tokenizer
// shared by several threads, and the `dsvl tokenize` contract command.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

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

TEST(DeepSeekVl, StreamingDecodeAndConcurrentEncode) {
  std::string dir = dsvl::test::shared_path("tokenizers/deepseek_vl");
  std::string golden = dsvl::test::shared_path("tokenizers/goldens/deepseek_vl.json");
  if (dir.empty() || golden.empty()) GTEST_SKIP() << "../shared/tokenizers not found";
  const Tokenizer tok = Tokenizer::load(dir);
  EXPECT_EQ(tok.bos_id(), 100000);
  EXPECT_EQ(tok.eos_id(), 100001);
  EXPECT_EQ(tok.vocab_size(), 100016u);
  EXPECT_EQ(tok.token_id("<image_placeholder>"), 100015);
  EXPECT_TRUE(tok.is_special(100015));
  EXPECT_FALSE(tok.is_special(100014));  // the added byte characters are not special
  const json entries = read_json(golden)["entries"];

  // Streaming: pieces never hold broken UTF-8 and add up to the one-shot decode.
  for (const auto& e : entries) {
    auto ids = e["ids_with_special"].get<std::vector<int32_t>>();
    dsvl::tokenizer::StreamDecoder d(tok, true);
    std::string all;
    for (int32_t id : ids) {
      std::string piece = d.push(id);
      EXPECT_NO_THROW((void)json(piece).dump()) << "broken UTF-8 in a stream piece";
      all += piece;
    }
    all += d.finish();
    EXPECT_EQ(all, e["decoded_skip_special"].get<std::string>()) << e["id"];
  }
  // Ids past the vocabulary (embedding rows 100016..102399) decode to nothing.
  EXPECT_EQ(tok.decode({100016, 102399, 17464}, false), "Hello");

  // Several threads share one Tokenizer (and its word cache).
  std::vector<std::thread> threads;
  std::vector<size_t> bad(4, 0);
  for (size_t t = 0; t < bad.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (size_t k = t; k < entries.size(); k += 2) {
          const auto& e = entries[k];
          if (tok.encode(e["text"].get<std::string>(), true) !=
              e["ids_with_special"].get<std::vector<int32_t>>())
            ++bad[t];
        }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < bad.size(); ++t) EXPECT_EQ(bad[t], 0u) << "thread " << t;
}

TEST(DeepSeekVl, TokenizeCommandWritesReferenceFormat) {
  std::string dir = dsvl::test::shared_path("tokenizers/deepseek_vl");
  std::string golden = dsvl::test::shared_path("tokenizers/goldens/deepseek_vl.json");
  if (dir.empty() || golden.empty()) GTEST_SKIP() << "../shared/tokenizers not found";
  const json entries = read_json(golden)["entries"];
  json corpus = json::array();
  for (size_t k = 0; k < entries.size(); k += 37)
    corpus.push_back({{"id", entries[k]["id"]}, {"text", entries[k]["text"]}});
  std::string tmp = dsvl::test::temp_dir("tokcmd");
  std::ofstream(tmp + "/corpus.json") << corpus.dump();
  std::string out;
  int rc = dsvl::test::run_command(dsvl::test::dsvl_binary() + " tokenize --tokenizer " + dir +
                                       " --corpus " + tmp + "/corpus.json --out " + tmp +
                                       "/out.json",
                                   &out);
  ASSERT_EQ(rc, 0) << out;
  json got = read_json(tmp + "/out.json")["entries"];
  ASSERT_EQ(got.size(), corpus.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const json& want = entries[i * 37];
    for (const char* key : {"id", "ids", "ids_with_special", "decoded", "decoded_skip_special"})
      EXPECT_EQ(got[i][key], want[key]) << key << " of " << want["id"];
  }
  // The human view and a clear failure on a missing folder.
  rc = dsvl::test::run_command(dsvl::test::dsvl_binary() + " tokenize --tokenizer " + dir +
                                   " 'Hello world'",
                               &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("100000 17464 1843"), std::string::npos) << out;
  rc = dsvl::test::run_command(dsvl::test::dsvl_binary() + " tokenize --tokenizer /nonexistent x",
                               &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("/nonexistent"), std::string::npos) << out;
}

}  // namespace
