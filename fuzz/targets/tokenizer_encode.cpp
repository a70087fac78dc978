// Tokenizer encode of arbitrary bytes, invalid UTF-8 included, with the small tokenizer of
// `dsvl synth` (and the real DeepSeek-VL one when $DSVL_FUZZ_TOKENIZER names it). Checks the
// documented contracts: every id is in the vocabulary, the streaming decoder's pieces add up to
// decode(), and, for the small tokenizer, valid UTF-8 round-trips through encode + decode. (Not
// for the real one: its added tokens 100002-100014 are single Latin-1 letters such as "ý" that
// the ByteLevel decoder turns into one invalid byte, so "ý" decodes to U+FFFD — in Hugging
// Face's tokenizers too.)
#include <stdexcept>

#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"
#include "tokenizer/unicode.h"

namespace dsvl::fuzz {
namespace {

void check(const tokenizer::Tokenizer& tok, std::string_view text, bool round_trips) {
  const bool valid = round_trips && tokenizer::unicode::valid_utf8_prefix(text) == text.size();
  for (bool special : {false, true}) {
    const std::vector<int32_t> ids = tok.encode(text, special);
    for (int32_t id : ids)
      if (id < 0 || size_t(id) >= tok.vocab_size())
        throw std::logic_error("encode gave id " + std::to_string(id) + " outside the vocabulary");
    const std::string plain = tok.decode(ids, /*skip_special_tokens=*/special);
    if (!special && valid && plain != text)
      throw std::logic_error("valid UTF-8 does not round-trip through encode + decode");
    tokenizer::StreamDecoder stream(tok, /*skip_special_tokens=*/special);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.finish();
    if (streamed != plain) throw std::logic_error("streamed decode differs from decode()");
  }
}

}  // namespace

void tokenizer_encode(std::string_view input) {
  expect_clean([&] {
    check(small_tokenizer(), input, /*round_trips=*/true);
    if (const tokenizer::Tokenizer* real = real_tokenizer()) check(*real, input, false);
  });
}

}  // namespace dsvl::fuzz
