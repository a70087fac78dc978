// Canonical decomposition, canonical ordering and canonical composition (UAX #15), the three
// steps of NFD/NFC, over the tables generated from UnicodeData.txt.
#include <algorithm>
#include <unordered_map>
#include <vector>

#include "tokenizer/unicode.h"

namespace dsvl::tokenizer {
namespace unicode_data {
extern const uint32_t kCccRanges[][3];
extern const size_t kCccRangesSize;
extern const uint32_t kDecompIndex[][3];
extern const size_t kDecompIndexSize;
extern const uint32_t kDecompFlat[];
extern const size_t kDecompFlatSize;
extern const uint32_t kComposePairs[][3];
extern const size_t kComposePairsSize;
extern const uint32_t kNfcQcNoMaybe[][2];
extern const size_t kNfcQcNoMaybeSize;
}  // namespace unicode_data

namespace unicode {
namespace {

namespace ud = unicode_data;

// Hangul syllables decompose and compose arithmetically (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// No code point below U+0300 has a nonzero combining class or NFC_Quick_Check != Yes, and
// none below U+00C0 has a canonical decomposition: those are answered without a lookup.
constexpr char32_t kFirstNonzeroClass = 0x300;
constexpr char32_t kFirstDecomposable = 0xC0;

int combining_class(char32_t cp) {
  if (cp < kFirstNonzeroClass) return 0;
  const auto* end = ud::kCccRanges + ud::kCccRangesSize;
  const auto* it = std::upper_bound(ud::kCccRanges, end, cp,
                                    [](char32_t c, const uint32_t(&r)[3]) { return c < r[0]; });
  if (it == ud::kCccRanges) return 0;
  --it;
  return cp <= (*it)[1] ? static_cast<int>((*it)[2]) : 0;
}

void decompose_into(char32_t cp, std::vector<char32_t>& out) {
  if (cp < kFirstDecomposable) {
    out.push_back(cp);
    return;
  }
  if (cp >= kSBase && cp < kSBase + kSCount) {
    char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const auto* end = ud::kDecompIndex + ud::kDecompIndexSize;
  const auto* it = std::lower_bound(ud::kDecompIndex, end, cp,
                                    [](const uint32_t(&r)[3], char32_t c) { return r[0] < c; });
  if (it == end || (*it)[0] != cp) {
    out.push_back(cp);
    return;
  }
  // The generator stores the full (recursive) decomposition.
  out.insert(out.end(), ud::kDecompFlat + (*it)[1], ud::kDecompFlat + (*it)[1] + (*it)[2]);
}

// Decomposes, then sorts each run of nonzero combining classes stably by class.
std::vector<char32_t> canonical_decomposition(std::string_view s) {
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) decompose_into(next_code_point(s, i), cps);
  for (size_t i = 0; i < cps.size();) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j, [](char32_t a, char32_t b) {
      return combining_class(a) < combining_class(b);
    });
    i = j;
  }
  return cps;
}

const std::unordered_map<uint64_t, char32_t>& composition_map() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<uint64_t, char32_t>();
    for (size_t i = 0; i < ud::kComposePairsSize; ++i)
      (*m)[(uint64_t{ud::kComposePairs[i][0]} << 32) | ud::kComposePairs[i][1]] =
          ud::kComposePairs[i][2];
    return m;
  }();
  return *map;
}

// The primary composite of (a, b), or 0 if there is none.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto& m = composition_map();
  auto it = m.find((uint64_t{a} << 32) | b);
  return it == m.end() ? 0 : it->second;
}

// Canonical composition: each character joins the last starter unless a character of the
// same or higher class (or a starter) stands between them.
void compose(std::vector<char32_t>& cps) {
  if (cps.empty()) return;
  size_t starter = 0, out = 1;
  int last_class = combining_class(cps[0]);
  if (last_class != 0) last_class = 256;  // no starter yet: nothing can compose
  for (size_t i = 1; i < cps.size(); ++i) {
    char32_t c = cps[i];
    int cls = combining_class(c);
    char32_t composite = compose_pair(cps[starter], c);
    if (composite != 0 && (last_class < cls || last_class == 0)) {
      cps[starter] = composite;
      continue;
    }
    if (cls == 0) starter = out;
    last_class = cls;
    cps[out++] = c;
  }
  cps.resize(out);
}

std::string to_utf8(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size() * 2);
  for (char32_t c : cps) append_utf8(out, c);
  return out;
}

bool in_nfc_qc_no_maybe(char32_t cp) {
  const auto* end = ud::kNfcQcNoMaybe + ud::kNfcQcNoMaybeSize;
  const auto* it = std::upper_bound(ud::kNfcQcNoMaybe, end, cp,
                                    [](char32_t c, const uint32_t(&r)[2]) { return c < r[0]; });
  return it != ud::kNfcQcNoMaybe && cp <= (*(it - 1))[1];
}

}  // namespace

bool is_nfc_quick(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0xCC) {  // lead bytes below 0xCC encode < U+0300
      i += utf8_len(static_cast<unsigned char>(s[i]));
      continue;
    }
    char32_t cp = next_code_point(s, i);
    if (combining_class(cp) != 0 || in_nfc_qc_no_maybe(cp)) return false;
  }
  return true;
}

std::string nfd(std::string_view s) { return to_utf8(canonical_decomposition(s)); }

std::string nfc(std::string_view s) {
  if (is_nfc_quick(s)) return std::string(s);
  std::vector<char32_t> cps = canonical_decomposition(s);
  compose(cps);
  return to_utf8(cps);
}

}  // namespace unicode
}  // namespace dsvl::tokenizer
