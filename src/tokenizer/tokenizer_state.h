// The loaded components behind a Tokenizer (internal to src/tokenizer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace dsvl::tokenizer {

// What `add_special_tokens=True` adds around the ids of one sequence.
struct SpecialTokensRule {
  std::vector<int32_t> prefix, suffix;
};

// Parses tokenizer.json's "post_processor" (null, ByteLevel, TemplateProcessing,
// RobertaProcessing, BertProcessing, Sequence) into the ids it adds for a single sequence.
SpecialTokensRule parse_post_processor(const nlohmann::json& j);

struct TokenizerState {
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Bpe model;
  AddedVocabulary added;
  SpecialTokensRule special_rule;
  bool byte_level_decoder = true;  // false: the null decoder (tokens joined by " ")
  int32_t bos = -1, eos = -1;
  int32_t max_id = -1;

  // Bytes each id contributes to decode output, and whether the id has a token at all.
  std::vector<std::string> decode_bytes;
  std::vector<uint8_t> has_token;

  std::optional<int32_t> token_id(std::string_view token) const;
  const std::string* token_text(int32_t id) const;  // nullptr if the id has no token
  // Precomputes decode_bytes / has_token once the vocabulary is complete.
  void build_decode_table();
  // Appends the ids of `text` (valid UTF-8) without special tokens.
  void encode_into(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace dsvl::tokenizer
