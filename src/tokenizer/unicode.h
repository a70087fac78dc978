// UTF-8 and the few Unicode properties the tokenizer needs, with the semantics of the Rust
// code that the Hugging Face `tokenizers` crate runs on: `String::from_utf8_lossy`,
// `char::is_numeric`, `char::is_whitespace`, the `regex` crate's `\w`, and NFC/NFD as the
// `unicode-normalization` crates compute them. Tables come from Debian's `unicode-data`
// (Unicode 15.0) through tools/gen_unicode_tables.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsvl::tokenizer::unicode {

// Decodes the code point at s[i] of a VALID UTF-8 string and advances i past it.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) {
    i += 1;
    return c;
  }
  if (c < 0xE0) {
    char32_t cp = ((c & 0x1Fu) << 6) | (b(i + 1) & 0x3Fu);
    i += 2;
    return cp;
  }
  if (c < 0xF0) {
    char32_t cp = ((c & 0x0Fu) << 12) | ((b(i + 1) & 0x3Fu) << 6) | (b(i + 2) & 0x3Fu);
    i += 3;
    return cp;
  }
  char32_t cp = ((c & 0x07u) << 18) | ((b(i + 1) & 0x3Fu) << 12) | ((b(i + 2) & 0x3Fu) << 6) |
                (b(i + 3) & 0x3Fu);
  i += 4;
  return cp;
}

// Byte length of the UTF-8 sequence that starts with lead byte c (1 for stray bytes).
inline size_t utf8_len(unsigned char c) {
  return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t cp);

// Length of the longest valid UTF-8 prefix of s (== s.size() when s is valid).
size_t valid_utf8_prefix(std::string_view s);

// Rust's String::from_utf8_lossy: every maximal invalid subsequence (Unicode's "maximal
// subpart" rule) becomes one U+FFFD; valid text is copied unchanged.
std::string utf8_lossy(std::string_view bytes);

// For streaming: the length of the prefix of `bytes` that can be decoded now. Only a
// trailing, still-completable sequence (a valid lead byte with too few continuation bytes)
// is held back; invalid bytes are final and are not.
size_t utf8_decodable_prefix(std::string_view bytes);

bool is_white_space(char32_t cp);  // Unicode White_Space (Rust char::is_whitespace, regex \s)
bool is_numeric(char32_t cp);      // General category Nd, Nl or No (Rust char::is_numeric)
bool is_word_char(char32_t cp);    // Rust regex \w: Alphabetic, M, Nd, Pc, Join_Control

// Canonical composition / decomposition (UAX #15). Input must be valid UTF-8.
std::string nfc(std::string_view s);
std::string nfd(std::string_view s);
// True when s is certainly already NFC (NFC_Quick_Check=Yes and no combining marks), so
// nfc(s) == s. A false answer means "maybe not".
bool is_nfc_quick(std::string_view s);

}  // namespace dsvl::tokenizer::unicode
