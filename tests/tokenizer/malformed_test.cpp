// Broken or unsupported tokenizer.json files fail at load with an error that names the
// problem, never with a crash or a silent fallback.
#include <gtest/gtest.h>

#include <fstream>

#include "common/shared.h"
#include "core/error.h"
#include "tokenizer/synthetic.h"
#include "tokenizer/tokenizer.h"

namespace {

using dsvl::tokenizer::Tokenizer;
using nlohmann::json;

// Loads `j` and returns the error message (empty if it loaded).
template <class E>
std::string load_error(const std::string& text) {
  try {
    Tokenizer::from_json(text, "");
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

void expect_config_error(const json& j, const std::string& needle) {
  std::string msg = load_error<dsvl::ConfigError>(j.dump());
  EXPECT_NE(msg.find(needle), std::string::npos) << "message: \"" << msg << "\"";
}

TEST(TokenizerMalformed, TruncatedJson) {
  std::string text = dsvl::test::synthetic_tokenizer().dump();
  std::string msg = load_error<dsvl::IoError>(text.substr(0, text.size() / 2));
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
}

TEST(TokenizerMalformed, UnknownModelType) {
  json j = dsvl::test::synthetic_tokenizer();
  j["model"]["type"] = "Unigram";
  expect_config_error(j, "model type \"Unigram\" is not supported");
}

TEST(TokenizerMalformed, BadMerges) {
  json j = dsvl::test::synthetic_tokenizer();
  j["model"]["merges"].push_back("a b c");
  expect_config_error(j, "is not two tokens separated by one space");
  j = dsvl::test::synthetic_tokenizer();
  j["model"]["merges"].push_back("a \xE2\x82\xAC");  // "€" is not in the vocabulary
  expect_config_error(j, "token \"\xE2\x82\xAC\" is not in the vocabulary");
  j = dsvl::test::synthetic_tokenizer();
  j["model"]["merges"].push_back(42);
  expect_config_error(j, "merges[6]");
}

TEST(TokenizerMalformed, UnsupportedComponentsAreNamed) {
  json j = dsvl::test::synthetic_tokenizer();
  j["pre_tokenizer"]["pretokenizers"][0] = {{"type", "Metaspace"}};
  expect_config_error(j, "pre_tokenizer type \"Metaspace\" is not supported");
  j = dsvl::test::synthetic_tokenizer();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_config_error(j, "normalizer type \"Lowercase\" is not supported");
  j = dsvl::test::synthetic_tokenizer();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_config_error(j, "decoder type \"WordPiece\" is not supported");
  j = dsvl::test::synthetic_tokenizer();
  j["post_processor"] = {{"type", "Fancy"}};
  expect_config_error(j, "post_processor type \"Fancy\" is not supported");
  j = dsvl::test::synthetic_tokenizer();
  j["pre_tokenizer"] = {{"type", "Digits"}};
  expect_config_error(j, "no ByteLevel step");
  j = dsvl::test::synthetic_tokenizer();
  j["model"]["dropout"] = 0.1;
  expect_config_error(j, "dropout");
  j = dsvl::test::synthetic_tokenizer();
  j["model"]["byte_fallback"] = true;
  expect_config_error(j, "byte_fallback");
}

TEST(TokenizerMalformed, BadRegexAndFields) {
  json j = dsvl::test::synthetic_tokenizer();
  j["pre_tokenizer"]["pretokenizers"][0] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_config_error(j, "does not compile");
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Regex", "a"}};
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways";
  expect_config_error(j, "Split behavior \"Sideways\" is unknown");
  j = dsvl::test::synthetic_tokenizer();
  j["model"]["vocab"]["ab"] = "x";
  expect_config_error(j, "vocab[\"ab\"] holds a string where a token id was expected");
  j = dsvl::test::synthetic_tokenizer();
  j["model"]["vocab"]["ab"] = -3;
  expect_config_error(j, "vocab[\"ab\"] = -3 is not a valid id");
  j["model"]["vocab"]["ab"] = 1000000000;  // would size the id tables at gigabytes (fuzz find)
  expect_config_error(j, "vocab[\"ab\"] = 1000000000 is not a valid id (0 to 4194303)");
  j = dsvl::test::synthetic_tokenizer();
  j.erase("model");
  expect_config_error(j, "\"model\" is missing");
}

TEST(TokenizerMalformed, MissingFilesAreIoErrors) {
  EXPECT_THROW(Tokenizer::load("/nonexistent/dsvl/tokenizer"), dsvl::IoError);
  std::string dir = dsvl::test::temp_dir("tok");
  ASSERT_FALSE(dir.empty());
  EXPECT_THROW(Tokenizer::load(dir), dsvl::IoError);  // folder without tokenizer.json
  std::ofstream(dir + "/tokenizer.json") << dsvl::test::synthetic_tokenizer().dump();
  std::ofstream(dir + "/tokenizer_config.json") << "{\"bos_token\": ";
  try {
    Tokenizer::load(dir);
    FAIL() << "expected IoError";
  } catch (const dsvl::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
  }
}

}  // namespace
