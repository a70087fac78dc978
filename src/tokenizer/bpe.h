// The BPE model of tokenizer.json, over raw bytes: a byte-level vocabulary token "Ġthe" is
// stored as the bytes " the", so pieces go to BPE without the alphabet mapping, and merges
// are pairs of ids. Results equal tokenizers' BPE (word.rs merge_all) id for id.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe_tables.h"

namespace dsvl::tokenizer {

class Bpe {
 public:
  // Parses the "model" value (type BPE). ConfigError for another model type, merges that
  // are malformed or name tokens missing from the vocabulary, and options this byte-level
  // implementation does not support (dropout, byte_fallback, subword prefix/suffix).
  static Bpe from_json(const nlohmann::json& model);

  // Appends the ids of one pre-tokenized piece (raw bytes). Thread-safe.
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;  // alphabet spelling
  const std::string* id_to_token(int32_t id) const;                   // nullptr if none
  size_t size() const { return vocab_.size(); }                       // vocab.len()
  int32_t max_id() const { return max_id_; }

 private:
  void merge_word(std::string_view bytes, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;  // token (alphabet spelling) -> id
  std::unordered_map<int32_t, std::string> vocab_r_;
  BytesToId byte_vocab_;               // raw bytes of every alphabet-only token -> id
  std::vector<int32_t> byte_ids_;      // id of each single byte, -1 if not in the vocabulary
  MergeMap merges_;                    // (left id, right id) -> rank, merged id
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  int32_t max_id_ = -1;
  std::shared_ptr<WordCache> cache_;   // shared by copies; internally locked
};

}  // namespace dsvl::tokenizer
