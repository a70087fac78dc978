// Oniguruma -> PCRE2 translation, onig-style match iteration, and the Split behaviours
// (expected pieces from tokenizers' own split.rs and pattern.rs tests).
#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/regex.h"

namespace {

using namespace dsvl::tokenizer;

std::vector<std::string> matches(std::string_view pattern, std::string_view text) {
  std::vector<Regex::Match> m;
  Regex(pattern).find_all(text, m);
  std::vector<std::string> out;
  for (const auto& x : m) out.emplace_back(text.substr(x.begin, x.end - x.begin));
  return out;
}

TEST(Regex, TranslatesOnigurumaClasses) {
  EXPECT_EQ(onig_to_pcre2("a\\sb"), "a[" + std::string(
      "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
      "\\x{202F}\\x{205F}\\x{3000}") + "]b");
  EXPECT_EQ(onig_to_pcre2("\\u00e9\\p{L}"), "\\x{00e9}\\p{L}");
  EXPECT_EQ(onig_to_pcre2("[\\h]"), "[0-9a-fA-F]");
  EXPECT_THROW(onig_to_pcre2("[a[b]]"), dsvl::ConfigError);
  EXPECT_THROW(onig_to_pcre2("[a-z&&[^c]]"), dsvl::ConfigError);
  EXPECT_THROW(onig_to_pcre2("[\\S]"), dsvl::ConfigError);
}

TEST(Regex, WhitespaceIsOnigurumasWhiteSpace) {
  // U+0085, U+00A0 and U+3000 are \s; U+180E, U+200B, U+FEFF and U+001C are not.
  EXPECT_EQ(matches("\\s+", "a\xC2\x85\xC2\xA0\xE3\x80\x80" "b"),
            (std::vector<std::string>{"\xC2\x85\xC2\xA0\xE3\x80\x80"}));
  EXPECT_TRUE(matches("\\s", "\xE1\xA0\x8E\xE2\x80\x8B\xEF\xBB\xBF\x1C").empty());
  EXPECT_EQ(matches("[^\\s\\p{L}]+", "a \x1C" "b"), (std::vector<std::string>{"\x1C"}));
}

TEST(Regex, IteratesLikeOnig) {
  EXPECT_EQ(matches("\\s+", "   a   b   "), (std::vector<std::string>{"   ", "   ", "   "}));
  // Empty matches are reported, except right after the previous match.
  EXPECT_EQ(matches("x*", "axxb"), (std::vector<std::string>{"", "xx", ""}));
  // $ is the end of a line (Ruby syntax), and the end of the piece.
  EXPECT_EQ(matches("\\s+$", "a  \nb "), (std::vector<std::string>{"  ", " "}));
  // Case-insensitive contractions as in the Llama 3 pattern.
  EXPECT_EQ(matches("(?i:'s|'t)", "IT'S it's"), (std::vector<std::string>{"'S", "'s"}));
}

std::vector<std::string> split(const nlohmann::json& pre, const std::string& text) {
  PreTokenizer p = PreTokenizer::from_json(
      {{"type", "Sequence"},
       {"pretokenizers",
        {pre, {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}});
  std::string buf = text;
  std::vector<Span> pieces;
  p.run(buf, {0, static_cast<uint32_t>(buf.size())}, pieces);
  std::vector<std::string> out;
  for (const Span& s : pieces) out.push_back(buf.substr(s.begin, s.size()));
  return out;
}

nlohmann::json split_step(const char* behavior, bool invert) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", "\\w+|[^\\w\\s]+"}}},
          {"behavior", behavior},
          {"invert", invert}};
}

TEST(PreTokenizer, SplitBehaviorsMatchTokenizers) {
  using V = std::vector<std::string>;
  const std::string s = "How are you doing?";
  EXPECT_EQ(split(split_step("Removed", true), s), (V{"How", "are", "you", "doing", "?"}));
  EXPECT_EQ(split(split_step("Isolated", true), s),
            (V{"How", " ", "are", " ", "you", " ", "doing", "?"}));
  EXPECT_EQ(split(split_step("MergedWithPrevious", true), s),
            (V{"How ", "are ", "you ", "doing", "?"}));
  EXPECT_EQ(split(split_step("MergedWithNext", true), s),
            (V{"How", " are", " you", " doing", "?"}));
  EXPECT_EQ(split(split_step("Contiguous", true), s),
            (V{"How", " ", "are", " ", "you", " ", "doing?"}));
  EXPECT_EQ(split({{"type", "Split"}, {"pattern", {{"String", "a."}}}, {"behavior", "Removed"}},
                  "xa.yaz"),
            (V{"x", "yaz"}));
}

TEST(PreTokenizer, DigitsUseUnicodeNumerals) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split({{"type", "Digits"}, {"individual_digits", true}}, "a12 \xC2\xBC"),
            (V{"a", "1", "2", " ", "\xC2\xBC"}));
  EXPECT_EQ(split({{"type", "Digits"}, {"individual_digits", false}}, "a12b3"),
            (V{"a", "12", "b", "3"}));
}

TEST(PreTokenizer, ByteLevelPrefixSpaceAndGpt2Regex) {
  PreTokenizer p = PreTokenizer::from_json(
      {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}});
  std::string buf = "Hello there  dear";
  std::vector<Span> pieces;
  p.run(buf, {0, static_cast<uint32_t>(buf.size())}, pieces);
  std::vector<std::string> out;
  for (const Span& s : pieces) out.push_back(buf.substr(s.begin, s.size()));
  EXPECT_EQ(out, (std::vector<std::string>{" Hello", " there", " ", " dear"}));
}

TEST(PreTokenizer, ByteLevelMustComeLast) {
  EXPECT_THROW(PreTokenizer::from_json(
                   {{"type", "Sequence"},
                    {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Digits"}}}}}),
               dsvl::ConfigError);
}

}  // namespace
