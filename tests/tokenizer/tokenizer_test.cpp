// Tokenizer behaviour on the synthetic tokenizer.json (tests/tokenizer/synthetic.h): added
// token rules, BPE merge order, post-processor, decode. Expected ids come from the Rust
// `tokenizers` crate 0.22 run on the same JSON.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/synthetic.h"

namespace {

using dsvl::tokenizer::Tokenizer;
using Ids = std::vector<int32_t>;

Tokenizer synthetic() { return Tokenizer::from_json(dsvl::test::synthetic_tokenizer().dump(), ""); }

struct Case {
  const char* text;
  Ids ids;                    // add_special_tokens = false
  const char* decoded_skip;   // decode(ids with <s>, skip_special_tokens = true)
};

TEST(Tokenizer, SyntheticMatchesReference) {
  Tokenizer tok = synthetic();
  const Case cases[] = {
      {"abc ab<s>a", {257, 32, 256, 262, 97}, "abc aba"},
      {"x  [L] y", {120, 263, 32, 121}, "x y"},                  // lstrip eats "  "
      {"x [R]  y", {120, 32, 264, 121}, "x [R]y"},               // rstrip eats "  "
      {"a word b", {97, 32, 265, 32, 98}, "a word b"},           // single word
      {"awordb", {97, 119, 111, 114, 100, 98}, "awordb"},        // not a single word
      {"word", {265}, "word"},
      {"[L][L]", {263, 263}, ""},
      {"a  [LR]  b", {97, 266, 98}, "ab"},
      {"ccccc abcc", {260, 261, 32, 257, 99}, "ccccc abcc"},     // merge order
      {"x12345y 67", {120, 49, 50, 51, 52, 53, 121, 32, 54, 55}, "x12345y 67"},
      {" [R]\t[L]", {32, 264, 263}, " [R]"},
      {"wordword", {119, 111, 114, 100, 119, 111, 114, 100}, "wordword"},
      {"\xC3\xA9 word,", {195, 169, 32, 265, 44}, "\xC3\xA9 word,"},
      {"ab\xC3\xA9" "c", {256, 195, 169, 99}, "ab\xC3\xA9" "c"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(tok.encode(c.text, false), c.ids) << c.text;
    Ids with = c.ids;
    with.insert(with.begin(), 262);  // TemplateProcessing "<s> $A"
    EXPECT_EQ(tok.encode(c.text, true), with) << c.text;
    EXPECT_EQ(tok.decode(with, true), c.decoded_skip) << c.text;
  }
}

TEST(Tokenizer, VocabularyAccessors) {
  Tokenizer tok = synthetic();
  EXPECT_EQ(tok.vocab_size(), 267u);
  EXPECT_EQ(tok.token_text(256), "ab");
  EXPECT_EQ(tok.token_text(262), "<s>");
  EXPECT_EQ(tok.token_text(1000), "");
  EXPECT_EQ(tok.token_id("[R]"), 264);
  EXPECT_EQ(tok.token_id("nope"), std::nullopt);
  EXPECT_TRUE(tok.is_special(262));
  EXPECT_FALSE(tok.is_special(264));
  EXPECT_EQ(tok.bos_id(), -1);  // no tokenizer_config
  EXPECT_EQ(tok.eos_id(), -1);
}

TEST(Tokenizer, DecodeSkipsUnknownIdsAndRepairsBytes) {
  Tokenizer tok = synthetic();
  // 0xC3 alone is a broken sequence: one U+FFFD, as from_utf8_lossy.
  EXPECT_EQ(tok.decode({97, 195, 98}, false), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(tok.decode({97, -5, 5000, 98}, false), "ab");
  EXPECT_EQ(tok.decode({}, false), "");
  EXPECT_EQ(tok.decode({262, 97}, false), "<s>a");
}

TEST(Tokenizer, InvalidUtf8InputIsReadAsReplacementCharacter) {
  Tokenizer tok = synthetic();
  // "a\xFFb" encodes like "a\uFFFDb".
  EXPECT_EQ(tok.encode("a\xFF" "b", false), tok.encode("a\xEF\xBF\xBD" "b", false));
}

TEST(Tokenizer, LlamaConfigAddsBosAndEos) {
  auto j = dsvl::test::synthetic_tokenizer();
  std::string cfg = R"({"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>",
                        "eos_token": {"content": "[R]"}, "add_eos_token": true})";
  Tokenizer tok = Tokenizer::from_json(j.dump(), cfg);
  EXPECT_EQ(tok.encode("ab", true), (Ids{262, 256, 264}));
  EXPECT_EQ(tok.bos_id(), 262);
  EXPECT_EQ(tok.eos_id(), 264);
}

TEST(Tokenizer, ConfigSpecialTokensMissingFromJsonAreAdded) {
  // transformers adds additional_special_tokens that tokenizer.json lacks (this is how
  // DeepSeek-VL's <image_placeholder> becomes id len(tokenizer)).
  Tokenizer tok = Tokenizer::from_json(dsvl::test::synthetic_tokenizer().dump(),
                                       R"({"additional_special_tokens": ["<img>"]})");
  EXPECT_EQ(tok.token_id("<img>"), 267);
  EXPECT_TRUE(tok.is_special(267));
  EXPECT_EQ(tok.encode("a<img>b", false), (Ids{97, 267, 98}));
}

TEST(Tokenizer, StreamDecoderNeverSplitsCharacters) {
  Tokenizer tok = synthetic();
  // "é€" as single bytes: C3 A9 E2 82 AC.
  Ids ids = {97, 195, 169, 226, 130, 172, 262, 98};
  dsvl::tokenizer::StreamDecoder d(tok, /*skip_special_tokens=*/true);
  std::vector<std::string> parts;
  for (int32_t id : ids) parts.push_back(d.push(id));
  parts.push_back(d.finish());
  EXPECT_EQ(parts, (std::vector<std::string>{"a", "", "\xC3\xA9", "", "", "\xE2\x82\xAC", "",
                                              "b", ""}));
  // A sequence left unfinished comes out as U+FFFD at the end, as in decode().
  dsvl::tokenizer::StreamDecoder d2(tok, false);
  EXPECT_EQ(d2.push(226), "");
  EXPECT_EQ(d2.push(130), "");
  EXPECT_EQ(d2.finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({226, 130}, false), "\xEF\xBF\xBD");
}

}  // namespace
