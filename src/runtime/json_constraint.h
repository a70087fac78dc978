// Grammar-constrained decoding for response_format json_object / json_schema: a
// TokenConstraint that allows a token only if its bytes extend the output towards a document
// of the grammar (json_acceptor.h) that can still be finished within the token budget, allows
// EOS only once the document is whole, and reports completion as soon as nothing else may
// follow. Each token's bytes are computed once per tokenizer (TokenBytes).
#pragma once

#include <bitset>
#include <memory>
#include <string>
#include <vector>

#include "runtime/json_acceptor.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace dsvl::runtime {

// The bytes each token id adds to decoded text; "" for ids that must never appear in
// constrained output (special tokens, ids without a token, the model's padding rows).
class TokenBytes {
 public:
  TokenBytes(const tokenizer::Tokenizer& tok, int64_t vocab_size);
  const std::string& bytes(int32_t id) const { return bytes_[size_t(id)]; }
  // Code points of a token that can sit anywhere inside a JSON string as is (no '"', '\\',
  // control characters, only whole UTF-8 sequences); -1 for other tokens.
  int32_t string_chars(int32_t id) const { return string_chars_[size_t(id)]; }
  int64_t size() const { return int64_t(bytes_.size()); }

 private:
  std::vector<std::string> bytes_;
  std::vector<int32_t> string_chars_;
};

class JsonConstraint final : public TokenConstraint {
 public:
  JsonConstraint(std::shared_ptr<const json::Grammar> grammar,
                 std::shared_ptr<const TokenBytes> vocab, int32_t eos_id);

  void begin_step(int64_t tokens_left) override;
  bool allowed(int32_t token) override;
  int32_t fallback() const override { return eos_; }
  void accept(int32_t token) override;
  bool complete() const override { return !dead_ && state_.complete(); }

 private:
  std::shared_ptr<const json::Grammar> grammar_;
  std::shared_ptr<const TokenBytes> vocab_;
  int32_t eos_;
  json::Acceptor state_, trial_;
  std::bitset<256> first_ok_;  // this step: bytes that may come next
  int64_t budget_ = 0;         // bytes the output may still need after the next token
  int64_t need_ = 0;           // bytes it needs now
  json::Acceptor::InString in_string_;
  bool dead_ = false;  // a token the grammar refuses was forced in (fallback): give up
};

}  // namespace dsvl::runtime
