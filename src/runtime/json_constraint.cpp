#include "runtime/json_constraint.h"

#include "tokenizer/byte_level.h"

namespace dsvl::runtime {

namespace {

// Code points of `b` if it is plain JSON string content (see TokenBytes::string_chars), or -1.
// The byte checks mirror json::Acceptor's string rules; the acceptor's tests cover both.
int32_t plain_string_chars(const std::string& b) {
  int32_t n = 0;
  for (size_t i = 0; i < b.size();) {
    const uint8_t c = uint8_t(b[i]);
    if (c < 0x20 || c == '"' || c == '\\') return -1;
    size_t len = 1;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0x80) {
      if (c >= 0xC2 && c <= 0xDF)
        len = 2;
      else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      else
        return -1;
    }
    if (i + len > b.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      const uint8_t d = uint8_t(b[i + k]);
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) return -1;
    }
    i += len;
    ++n;
  }
  return n;
}

}  // namespace

// As the tokenizer's ByteLevel decoder: a token spelled in the byte alphabet stands for those
// bytes; one with other characters keeps its own UTF-8.
TokenBytes::TokenBytes(const tokenizer::Tokenizer& tok, int64_t vocab_size)
    : bytes_(size_t(vocab_size)), string_chars_(size_t(vocab_size), -1) {
  const int64_t n = std::min<int64_t>(vocab_size, int64_t(tok.vocab_size()));
  for (int64_t id = 0; id < n; ++id) {
    if (tok.is_special(int32_t(id))) continue;
    const std::string text = tok.token_text(int32_t(id));
    if (text.empty()) continue;
    bytes_[size_t(id)] = tokenizer::byte_level::token_to_bytes(text).value_or(text);
    string_chars_[size_t(id)] = plain_string_chars(bytes_[size_t(id)]);
  }
}

JsonConstraint::JsonConstraint(std::shared_ptr<const json::Grammar> grammar,
                               std::shared_ptr<const TokenBytes> vocab, int32_t eos_id)
    : grammar_(std::move(grammar)),
      vocab_(std::move(vocab)),
      eos_(eos_id),
      state_(*grammar_),
      trial_(*grammar_) {}

void JsonConstraint::begin_step(int64_t tokens_left) {
  // Each token adds at least one byte and every byte has a token of its own, so the document
  // can be closed in time iff the bytes it needs after the next token fit in tokens_left.
  // When even that is out of reach (a small max_tokens), every token must at least bring the
  // end closer, in the hope that multi-byte tokens make up for it.
  const int64_t need = state_.min_bytes_to_end();
  budget_ = need <= tokens_left + 1 ? tokens_left : need - 1;
  need_ = need;
  in_string_ = state_.in_string();
  for (int b = 0; b < 256; ++b) {
    trial_ = state_;
    first_ok_[size_t(b)] = !dead_ && trial_.push(uint8_t(b));
  }
}

bool JsonConstraint::allowed(int32_t token) {
  if (token == eos_) return dead_ || state_.can_end();
  if (dead_ || token < 0 || token >= vocab_->size()) return false;
  const std::string& b = vocab_->bytes(token);
  if (b.empty() || !first_ok_[uint8_t(b[0])]) return false;
  if (in_string_.active) {  // the fast path: plain text inside a string
    const int64_t n = vocab_->string_chars(token);
    if (n >= 0) return n <= in_string_.room && need_ - std::min(n, in_string_.missing) <= budget_;
  }
  trial_ = state_;
  if (!trial_.push(b)) return false;
  return trial_.min_bytes_to_end() <= budget_;
}

void JsonConstraint::accept(int32_t token) {
  if (dead_ || token == eos_) return;
  if (token < 0 || token >= vocab_->size() || vocab_->bytes(token).empty() ||
      !state_.push(vocab_->bytes(token)))
    dead_ = true;
}

}  // namespace dsvl::runtime
