#include "tokenizer/unicode.h"

#include <algorithm>
#include <cstring>

namespace dsvl::tokenizer {
namespace unicode_data {
extern const uint32_t kNumeric[][2];
extern const size_t kNumericSize;
extern const uint32_t kWordChar[][2];
extern const size_t kWordCharSize;
extern const uint32_t kWhiteSpace[][2];
extern const size_t kWhiteSpaceSize;
}  // namespace unicode_data

namespace unicode {
namespace {

// What the bytes at p (n available) start with, following Unicode Table 3-7
// (well-formed UTF-8 byte sequences).
struct Sequence {
  enum Kind { kValid, kInvalid, kIncomplete } kind;
  size_t len;  // valid: sequence length; invalid: bytes in the maximal subpart; incomplete: n
};

Sequence classify(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return {Sequence::kValid, 1};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return {Sequence::kInvalid, 1};
  }
  for (size_t k = 1; k < need; ++k) {
    if (k >= n) return {Sequence::kIncomplete, n};
    unsigned char b = p[k];
    bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {Sequence::kInvalid, k};
  }
  return {Sequence::kValid, need};
}

bool in_ranges(const uint32_t (*ranges)[2], size_t n, char32_t cp) {
  // Binary search for the last range whose start <= cp.
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ranges[mid][0] <= cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo > 0 && cp <= ranges[lo - 1][1];
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t valid_utf8_prefix(std::string_view s) {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    Sequence q = classify(p + i, n - i);
    if (q.kind != Sequence::kValid) return i;
    i += q.len;
  }
  return n;
}

std::string utf8_lossy(std::string_view bytes) {
  size_t valid = valid_utf8_prefix(bytes);
  if (valid == bytes.size()) return std::string(bytes);
  std::string out(bytes.substr(0, valid));
  auto p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = valid, n = bytes.size();
  while (i < n) {
    Sequence q = classify(p + i, n - i);
    if (q.kind == Sequence::kValid) {
      out.append(bytes.data() + i, q.len);
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
    }
    i += q.len;
  }
  return out;
}

size_t utf8_decodable_prefix(std::string_view bytes) {
  // A completable sequence is at most 3 bytes long; look for its lead byte near the end.
  size_t n = bytes.size();
  auto p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t start = n - back;
    if ((p[start] & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    Sequence q = classify(p + start, back);
    return q.kind == Sequence::kIncomplete ? start : n;
  }
  return n;
}

bool is_white_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return in_ranges(unicode_data::kWhiteSpace, unicode_data::kWhiteSpaceSize, cp);
}

bool is_numeric(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(unicode_data::kNumeric, unicode_data::kNumericSize, cp);
}

bool is_word_char(char32_t cp) {
  if (cp < 0x80)
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           cp == '_';
  return in_ranges(unicode_data::kWordChar, unicode_data::kWordCharSize, cp);
}

}  // namespace unicode
}  // namespace dsvl::tokenizer
