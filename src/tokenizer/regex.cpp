#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace dsvl::tokenizer {
namespace {

// Onig's \s under Unicode is the White_Space property. PCRE2's UCP \s leaves out U+0085,
// so the set is spelled out (the goldens have U+0085, U+00A0 and U+3000 in \s, and U+180E,
// U+200B, U+FEFF, U+001C-U+001F outside it).
constexpr std::string_view kSpaceSet =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";
// Onig's Unicode \w (Word): Alphabetic, marks, decimal digits, connector punctuation and
// the joiners, as in UTS #18.
constexpr std::string_view kWordSet = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
constexpr std::string_view kHexSet = "0-9a-fA-F";

[[noreturn]] void unsupported(std::string_view pattern, const std::string& what) {
  throw ConfigError("tokenizer regex \"" + std::string(pattern) + "\": " + what +
                    " has no PCRE2 translation (unsupported)");
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Translates the escape at p[i] == '\\'; returns the index after it.
size_t translate_escape(std::string_view p, size_t i, bool in_class, std::string& out) {
  if (i + 1 >= p.size()) unsupported(p, "a trailing backslash");
  char c = p[i + 1];
  auto set = [&](std::string_view body, bool negated) {
    if (in_class) {
      if (negated) unsupported(p, std::string("\\") + c + " inside a character class");
      out += body;
    } else {
      out += negated ? "[^" : "[";
      out += body;
      out += "]";
    }
    return i + 2;
  };
  switch (c) {
    case 's': return set(kSpaceSet, false);
    case 'S': return set(kSpaceSet, true);
    case 'w': return set(kWordSet, false);
    case 'W': return set(kWordSet, true);
    case 'h': return set(kHexSet, false);
    case 'H': return set(kHexSet, true);
    case 'u':
      if (i + 5 < p.size() && is_hex(p[i + 2]) && is_hex(p[i + 3]) && is_hex(p[i + 4]) &&
          is_hex(p[i + 5])) {
        out += "\\x{";
        out += p.substr(i + 2, 4);
        out += "}";
        return i + 6;
      }
      unsupported(p, "\\u without four hex digits");
    default: {
      // Everything else means the same in both engines; copy the escape and its (possibly
      // multi-byte) character.
      size_t len = unicode::utf8_len(static_cast<unsigned char>(c));
      out += p.substr(i, 1 + len);
      return i + 1 + len;
    }
  }
}

}  // namespace

std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '\\') {
      i = translate_escape(p, i, in_class, out);
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < p.size() && p[i] == '^') out += p[i++];
      if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ']' is literal
      continue;
    }
    if (in_class) {
      if (c == ']') {
        in_class = false;
      } else if (c == '[') {
        if (p.substr(i, 2) != "[:") unsupported(p, "a nested character class");
        size_t close = p.find(":]", i + 2);
        if (close == std::string_view::npos) unsupported(p, "an unterminated POSIX class");
        out += p.substr(i, close + 2 - i);
        i = close + 2;
        continue;
      } else if (p.substr(i, 2) == "&&") {
        unsupported(p, "class intersection &&");
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-#&~ \t\n").find(c) != std::string_view::npos)
      out += '\\';
    out += c;
  }
  return out;
}

namespace {

// Per-thread match scratch: PCRE2 match data and a JIT stack big enough for long runs of
// whitespace or letters (the default 32 KiB machine stack is not).
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
  MatchScratch() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~MatchScratch() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  std::string translated = onig_to_pcre2(pattern);
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  // Onig's Ruby syntax: ^ and $ are line anchors (PCRE2_MULTILINE), '.' excludes "\n".
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &err_off, cc);
  pcre2_compile_context_free(cc);
  if (!code)
    throw ConfigError("tokenizer regex \"" + pattern_ + "\" does not compile (as PCRE2 \"" +
                      translated + "\", offset " + std::to_string(err_off) +
                      "): " + pcre2_message(err));
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  code_ = std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
}

void Regex::find_all(std::string_view subject, std::vector<Match>& out) const {
  auto* code = static_cast<const pcre2_code*>(code_.get());
  MatchScratch& s = scratch();
  auto text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  const size_t n = subject.size();
  size_t start = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (start <= n) {
    // The input was validated as UTF-8 once, up front.
    int rc = jit_ ? pcre2_jit_match(code, text, n, start, 0, s.data, s.context)
                  : pcre2_match(code, text, n, start, PCRE2_NO_UTF_CHECK, s.data, s.context);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0)
      throw Error(ErrorKind::kInternal,
                  "tokenizer regex \"" + pattern_ + "\" failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    size_t b = ov[0], e = ov[1];
    if (b == e && have_last && last_match_end == e) {
      // No empty match right after the previous one; step one character, like onig.
      start += start < n ? unicode::utf8_len(text[start]) : 1;
      continue;
    }
    start = e;
    have_last = true;
    last_match_end = e;
    out.push_back({b, e});
  }
}

}  // namespace dsvl::tokenizer
