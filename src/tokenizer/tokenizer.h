// Hugging Face tokenizer.json (byte-level BPE family), exact against the Rust `tokenizers`
// crate: added tokens, normalizer, pre-tokenizer regexes, BPE, ByteLevel decoder, and the
// special tokens of tokenizer_config.json as transformers applies them.
//
//   auto tok = dsvl::tokenizer::Tokenizer::load("deepseek-vl-7b-chat");
//   std::vector<int32_t> ids = tok.encode("Hello", /*add_special_tokens=*/true);
//   std::string text = tok.decode(ids, /*skip_special_tokens=*/true);
//
// Thread safety: a Tokenizer is immutable after load (its word cache is internally
// locked), so one instance may serve concurrent encode/decode calls. Copies are cheap and
// share the loaded state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsvl::tokenizer {

struct TokenizerState;  // the loaded components (tokenizer_state.h)

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json and, if present, DIR/tokenizer_config.json. DIR may be a model
  // folder or a tokenizer folder; a path to a tokenizer.json file is accepted too.
  // Throws IoError (missing/unreadable/invalid JSON) or ConfigError (unsupported or
  // inconsistent content), naming the file and the component.
  static Tokenizer load(const std::string& model_dir_or_tokenizer_dir);
  // The same from JSON text (tokenizer_config may be empty); `origin` names it in errors.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                             const std::string& origin = "tokenizer.json");

  // Token ids of `text`. add_special_tokens: what transformers adds for
  // `add_special_tokens=True` (BOS for LlamaTokenizerFast configs, else the post-processor).
  // Invalid UTF-8 in `text` is read as U+FFFD (one per maximal invalid sequence).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;

  // Text of `ids` as tokenizers' decode: byte-level tokens back to bytes, then one lossy
  // UTF-8 pass (invalid bytes -> U+FFFD). Ids without a token are skipped.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const;

  std::string token_text(int32_t id) const;                       // raw token string, "" if none
  std::optional<int32_t> token_id(std::string_view token) const;  // added tokens first, then BPE
  int32_t bos_id() const;  // tokenizer_config bos_token; -1 if none
  int32_t eos_id() const;  // tokenizer_config eos_token; -1 if none
  size_t vocab_size() const;  // highest token id + 1 (model vocabulary and added tokens)
  bool is_special(int32_t id) const;

 private:
  friend class StreamDecoder;
  explicit Tokenizer(std::shared_ptr<const TokenizerState> s) : s_(std::move(s)) {}
  std::shared_ptr<const TokenizerState> s_;
};

// Incremental detokenizer for streaming output: push ids one at a time and get the text
// that became complete. A multi-byte character split across tokens is held back until its
// last byte arrives, so no broken UTF-8 is ever emitted, and the concatenation of all push()
// results plus finish() equals tokenizer.decode(all ids, skip_special_tokens).
// One StreamDecoder per stream; not thread-safe itself (the Tokenizer may be shared).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = true);
  std::string push(int32_t id);
  // Whatever is still held back (an unfinished sequence becomes U+FFFD).
  std::string finish();

 private:
  Tokenizer tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;  // bytes not yet emitted
};

}  // namespace dsvl::tokenizer
