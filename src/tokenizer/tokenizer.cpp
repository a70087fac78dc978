// Encode and decode: the order of steps is tokenizers' Tokenizer::encode_single_sequence
// (added tokens -> normalizer -> normalized added tokens -> pre-tokenizer -> BPE) followed
// by the special-token rule, and Tokenizer::decode.
#include "tokenizer/tokenizer.h"

#include <limits>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer_state.h"
#include "tokenizer/unicode.h"

namespace dsvl::tokenizer {

std::optional<int32_t> TokenizerState::token_id(std::string_view token) const {
  if (auto id = added.id_of(token)) return id;
  return model.token_to_id(token);
}

const std::string* TokenizerState::token_text(int32_t id) const {
  if (const AddedToken* t = added.token_of(id)) return &t->content;
  return model.id_to_token(id);
}

void TokenizerState::build_decode_table() {
  decode_bytes.assign(static_cast<size_t>(max_id + 1), std::string());
  has_token.assign(static_cast<size_t>(max_id + 1), 0);
  for (int32_t id = 0; id <= max_id; ++id) {
    const std::string* t = token_text(id);
    if (!t) continue;
    has_token[id] = 1;
    // ByteLevel decodes a token through the alphabet only if every character is in it;
    // otherwise (e.g. "<｜end▁of▁sentence｜>") the token's own UTF-8 is kept.
    decode_bytes[id] = byte_level_decoder ? byte_level::token_to_bytes(*t).value_or(*t) : *t;
  }
}

void TokenizerState::encode_into(std::string_view text, std::vector<int32_t>& out) const {
  struct Scratch {
    std::vector<AddedVocabulary::Piece> raw, normalized;
    std::vector<Span> words;
    std::string buf;
  };
  thread_local Scratch sc;
  sc.raw.clear();
  added.split(text, /*normalized_set=*/false, sc.raw);
  for (const auto& piece : sc.raw) {
    if (piece.id >= 0) {
      out.push_back(piece.id);
      continue;
    }
    std::string_view segment = text.substr(piece.begin, piece.end - piece.begin);
    if (normalizer.is_identity())
      sc.buf.assign(segment);
    else
      sc.buf = normalizer.normalize(segment);
    sc.normalized.clear();
    added.split(sc.buf, /*normalized_set=*/true, sc.normalized);
    for (const auto& sub : sc.normalized) {
      if (sub.id >= 0) {
        out.push_back(sub.id);
        continue;
      }
      sc.words.clear();
      pre_tokenizer.run(sc.buf, {static_cast<uint32_t>(sub.begin), static_cast<uint32_t>(sub.end)},
                        sc.words);
      // The pre-tokenizer may have appended to buf, so views are taken only now.
      std::string_view buf(sc.buf);
      for (const Span& w : sc.words) model.encode_piece(buf.substr(w.begin, w.size()), out);
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  // Offsets are 32-bit; the prefix-space step may double a piece, hence the margin.
  if (text.size() > std::numeric_limits<uint32_t>::max() / 4)
    throw LimitError("tokenizer: text of " + std::to_string(text.size()) +
                     " bytes is too long to encode in one call (max 1 GiB)");
  std::string repaired;
  if (unicode::valid_utf8_prefix(text) != text.size()) {
    repaired = unicode::utf8_lossy(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids = s_->special_rule.prefix;
  s_->encode_into(text, ids);
  if (add_special_tokens)
    ids.insert(ids.end(), s_->special_rule.suffix.begin(), s_->special_rule.suffix.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || id > s_->max_id || !s_->has_token[id]) continue;
    if (skip_special_tokens && s_->added.is_special(id)) continue;
    // The null decoder joins token strings with spaces.
    if (!s_->byte_level_decoder && !first) bytes += ' ';
    bytes += s_->decode_bytes[id];
    first = false;
  }
  return s_->byte_level_decoder ? unicode::utf8_lossy(bytes) : bytes;
}

std::string Tokenizer::token_text(int32_t id) const {
  const std::string* t = s_->token_text(id);
  return t ? *t : std::string();
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  return s_->token_id(token);
}

int32_t Tokenizer::bos_id() const { return s_->bos; }
int32_t Tokenizer::eos_id() const { return s_->eos; }
size_t Tokenizer::vocab_size() const { return static_cast<size_t>(s_->max_id + 1); }
bool Tokenizer::is_special(int32_t id) const { return s_->added.is_special(id); }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::push(int32_t id) {
  const TokenizerState& s = *tokenizer_.s_;
  if (id < 0 || id > s.max_id || !s.has_token[id]) return {};
  if (skip_special_ && s.added.is_special(id)) return {};
  if (!s.byte_level_decoder) {
    std::string out = first_ ? s.decode_bytes[id] : " " + s.decode_bytes[id];
    first_ = false;
    return out;
  }
  first_ = false;
  pending_ += s.decode_bytes[id];
  size_t n = unicode::utf8_decodable_prefix(pending_);
  std::string out = unicode::utf8_lossy(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = unicode::utf8_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace dsvl::tokenizer
