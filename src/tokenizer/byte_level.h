// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable
// character (printable Latin-1 stands for itself, the rest map to U+0100.. in byte order),
// so that every byte string is a string of "characters" that BPE can merge. Vocabulary
// tokens are written in this alphabet ("Ġ" is the space byte 0x20).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsvl::tokenizer::byte_level {

// The character that stands for byte b.
char32_t byte_to_char(uint8_t b);

// The byte that character c stands for, or -1 if c is not in the alphabet.
int char_to_byte(char32_t c);

// The raw bytes of a token written in the alphabet, or nullopt if any character of it is
// outside the alphabet (such tokens keep their own UTF-8 when decoding, as in tokenizers).
std::optional<std::string> token_to_bytes(std::string_view token);

// The alphabet spelling of raw bytes (what the reference shows as a token string).
std::string bytes_to_token(std::string_view bytes);

}  // namespace dsvl::tokenizer::byte_level
