// Added tokens (tokenizer.json "added_tokens"): found in the text before pre-tokenization,
// anywhere, even inside words, and emitted as single ids. Tokens with "normalized": false
// are matched in the raw text, the others in the normalized text (tokenizers'
// AddedVocabulary::extract_and_normalize), leftmost-longest, with the lstrip / rstrip /
// single_word rules of its find_matches.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dsvl::tokenizer {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool normalized = true;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// A byte-level trie over token contents for leftmost-longest matching.
class TokenTrie {
 public:
  void insert(std::string_view pattern, int32_t value);
  bool empty() const { return nodes_.size() <= 1; }
  // The longest pattern starting at text[pos]: its length and value, or length 0.
  std::pair<size_t, int32_t> longest_at(std::string_view text, size_t pos) const;
  // Whether some pattern could start with byte b (a fast skip test).
  bool may_start(unsigned char b) const { return first_[b]; }

 private:
  struct Node {
    int32_t value = -1;  // token index if a pattern ends here
  };
  std::vector<Node> nodes_{Node{}};
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child
  bool first_[256] = {};
};

class AddedVocabulary {
 public:
  // Adds tokens in file order as tokenizers' AddedVocabulary::add_tokens does: a token
  // whose content is already a model token takes that id; others get new ids counting up
  // from the model's vocabulary size. `model_id` looks content up in the model.
  template <class ModelLookup>
  void add(const std::vector<AddedToken>& tokens, size_t model_vocab_size, ModelLookup model_id);
  // Builds the matching tries; call once after the last add.
  void finalize(const Normalizer& normalizer);

  // A piece of text and, for a matched token, its id (-1 for plain text).
  struct Piece {
    size_t begin, end;
    int32_t id;
  };
  // Splits `text` around the tokens of one set (raw: normalized == false; or normalized).
  void split(std::string_view text, bool normalized_set, std::vector<Piece>& out) const;

  std::optional<int32_t> id_of(std::string_view content) const;
  const AddedToken* token_of(int32_t id) const;
  bool is_special(int32_t id) const { return special_ids_.count(id) != 0; }
  int32_t max_id() const { return max_id_; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;                      // distinct tokens with final ids
  std::unordered_map<std::string, int32_t> by_content_;  // content -> id
  std::unordered_map<int32_t, size_t> by_id_;           // id -> index in tokens_
  std::unordered_set<int32_t> special_ids_;
  TokenTrie raw_trie_, normalized_trie_;  // values index tokens_
  int32_t max_id_ = -1;
};

template <class ModelLookup>
void AddedVocabulary::add(const std::vector<AddedToken>& tokens, size_t model_vocab_size,
                          ModelLookup model_id) {
  auto next_id = static_cast<int32_t>(model_vocab_size);
  if (max_id_ >= 0 && (max_id_ >= next_id || model_vocab_size == 0)) next_id = max_id_ + 1;
  for (AddedToken t : tokens) {
    if (t.content.empty()) continue;
    if (auto it = by_content_.find(t.content); it != by_content_.end()) {
      t.id = it->second;
    } else if (std::optional<int32_t> m = model_id(t.content)) {
      t.id = *m;
    } else {
      t.id = next_id++;
    }
    by_content_[t.content] = t.id;
    if (t.special) special_ids_.insert(t.id);
    if (auto it = by_id_.find(t.id); it != by_id_.end()) {
      tokens_[it->second] = t;  // the later definition wins, as in added_tokens_map_r
    } else {
      by_id_[t.id] = tokens_.size();
      tokens_.push_back(t);
    }
    if (t.id > max_id_) max_id_ = t.id;
  }
}

}  // namespace dsvl::tokenizer
