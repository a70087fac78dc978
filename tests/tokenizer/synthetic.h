// A small byte-level BPE tokenizer.json built in code, for tests that need exact control
// over vocabulary, merges and added tokens. The expected values in the tests that use it
// were produced by the Rust `tokenizers` crate on the same JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/byte_level.h"
#include "tokenizer/unicode.h"

namespace dsvl::test {

inline std::string byte_char(int b) {
  std::string s;
  tokenizer::unicode::append_utf8(s, tokenizer::byte_level::byte_to_char(static_cast<uint8_t>(b)));
  return s;
}

// vocab: the 256 byte characters (id = byte value), then ab=256 abc=257 Ġa=258 Ġab=259
// cc=260 ccc=261. Added: <s>=262 (special), [L]=263 (special, lstrip), [R]=264 (rstrip),
// word=265 (single_word, normalized), [LR]=266 (special, lstrip+rstrip).
inline nlohmann::json synthetic_tokenizer() {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  json merges = json::array();
  auto merge = [&](const std::string& a, const std::string& b) {
    vocab[a + b] = static_cast<int>(vocab.size());
    merges.push_back(a + " " + b);
  };
  const std::string sp = byte_char(' ');
  merge("a", "b");
  merge("ab", "c");
  merge(sp, "a");
  merge(sp + "a", "b");
  merge("c", "c");
  merge("cc", "c");
  auto added = [](int id, const char* content, bool special, bool normalized, bool lstrip,
                  bool rstrip, bool single_word) {
    return json{{"id", id},         {"content", content}, {"single_word", single_word},
                {"lstrip", lstrip}, {"rstrip", rstrip},   {"normalized", normalized},
                {"special", special}};
  };
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = {added(262, "<s>", true, false, false, false, false),
                       added(263, "[L]", true, false, true, false, false),
                       added(264, "[R]", false, false, false, true, false),
                       added(265, "word", false, true, false, false, true),
                       added(266, "[LR]", true, false, true, true, false)};
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Digits"}, {"individual_digits", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
         {"use_regex", true}}}}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {262}}, {"tokens", {"<s>"}}}}}}};
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                  {"use_regex", true}};
  j["model"] = {{"type", "BPE"},      {"dropout", nullptr},  {"unk_token", nullptr},
                {"fuse_unk", false},  {"byte_fallback", false}, {"vocab", vocab},
                {"merges", merges}};
  return j;
}

}  // namespace dsvl::test
