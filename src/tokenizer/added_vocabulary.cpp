#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"

namespace dsvl::tokenizer {
namespace {

// The helpers of added_vocabulary.rs, which use the `regex` crate: \w and \s are Unicode
// (Alphabetic/M/Nd/Pc/Join_Control and White_Space), and $ is the end of the text.

char32_t last_code_point(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) --i;
  return unicode::next_code_point(s, i);
}

bool ends_with_word(std::string_view s) {
  return !s.empty() && unicode::is_word_char(last_code_point(s));
}

bool starts_with_word(std::string_view s) {
  size_t i = 0;
  return !s.empty() && unicode::is_word_char(unicode::next_code_point(s, i));
}

// Start of the whitespace run at the end of s (s.size() if none): `\s*$`.
size_t space_leftmost_at_end(std::string_view s) {
  size_t start = s.size();
  while (start > 0) {
    size_t i = start - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    size_t j = i;
    if (!unicode::is_white_space(unicode::next_code_point(s, j))) break;
    start = i;
  }
  return start;
}

// End of the whitespace run at the start of s: `^\s*`.
size_t space_rightmost_at_start(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (!unicode::is_white_space(unicode::next_code_point(s, j))) break;
    i = j;
  }
  return i;
}

}  // namespace

void TokenTrie::insert(std::string_view pattern, int32_t value) {
  if (pattern.empty()) return;
  first_[static_cast<unsigned char>(pattern[0])] = true;
  int32_t node = 0;
  for (char c : pattern) {
    uint64_t key = (uint64_t(node) << 8) | static_cast<unsigned char>(c);
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      nodes_.push_back({});
      it = edges_.emplace(key, static_cast<int32_t>(nodes_.size() - 1)).first;
    }
    node = it->second;
  }
  // For identical contents the first token keeps the slot, as aho-corasick reports the
  // pattern with the lowest index.
  if (nodes_[node].value < 0) nodes_[node].value = value;
}

std::pair<size_t, int32_t> TokenTrie::longest_at(std::string_view text, size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find((uint64_t(node) << 8) | static_cast<unsigned char>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (nodes_[node].value >= 0) best = {i + 1 - pos, nodes_[node].value};
  }
  return best;
}

void AddedVocabulary::finalize(const Normalizer& normalizer) {
  raw_trie_ = TokenTrie();
  normalized_trie_ = TokenTrie();
  // Special tokens first, then the others, in file order (refresh_added_tokens).
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const AddedToken& t = tokens_[k];
      if (t.special != (pass == 0)) continue;
      if (t.normalized)
        normalized_trie_.insert(normalizer.normalize(t.content), static_cast<int32_t>(k));
      else
        raw_trie_.insert(t.content, static_cast<int32_t>(k));
    }
  }
}

void AddedVocabulary::split(std::string_view text, bool normalized_set,
                            std::vector<Piece>& out) const {
  const TokenTrie& trie = normalized_set ? normalized_trie_ : raw_trie_;
  const size_t n = text.size();
  if (trie.empty()) {
    if (n) out.push_back({0, n, -1});
    return;
  }
  size_t start_offset = 0, pos = 0;
  while (pos < n) {
    size_t at = pos, len = 0;
    int32_t index = -1;
    for (; at < n; ++at) {
      if (!trie.may_start(static_cast<unsigned char>(text[at]))) continue;
      std::tie(len, index) = trie.longest_at(text, at);
      if (len) break;
    }
    if (!len) break;
    // The matcher resumes after the match even when the rules below discard it.
    pos = at + len;
    const AddedToken& t = tokens_[index];
    size_t start = at, stop = at + len;
    if (t.single_word) {
      bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
      bool stop_space = stop == n || !starts_with_word(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) start = std::max(space_leftmost_at_end(text.substr(0, start)), start_offset);
    if (t.rstrip) stop += space_rightmost_at_start(text.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, t.id});
    start_offset = stop;
  }
  if (start_offset < n) out.push_back({start_offset, n, -1});
}

std::optional<int32_t> AddedVocabulary::id_of(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedVocabulary::token_of(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace dsvl::tokenizer
