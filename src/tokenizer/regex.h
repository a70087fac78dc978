// Regexes of tokenizer.json, written for Oniguruma (what the Rust `tokenizers` crate
// compiles them with), run with PCRE2 + JIT. The pattern is first rewritten where the two
// engines disagree (see onig_to_pcre2), and matches are iterated like onig's find_iter.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dsvl::tokenizer {

// Rewrites an Oniguruma pattern (Ruby syntax, UTF-8, Unicode classes) into an equivalent
// PCRE2 pattern:
//   \s \S    -> the White_Space property spelled out (PCRE2's \s misses U+0085);
//   \w \W    -> letters, marks, decimal digits and connector punctuation (Onig's Word);
//   \h \H    -> hex digits (in Onig \h is a hex digit, in PCRE2 horizontal space);
//   \uHHHH   -> \x{HHHH}.
// Throws ConfigError for constructs with no faithful translation (nested classes,
// class intersection `&&`, \S / \W inside a class).
std::string onig_to_pcre2(std::string_view pattern);

// Quotes every character of s so that it matches literally (Split's `String` pattern).
std::string regex_escape(std::string_view s);

// A compiled regex. Immutable after construction and safe to share between threads: match
// scratch space is per thread.
class Regex {
 public:
  // `pattern` is Oniguruma syntax; ConfigError names it when it does not compile.
  explicit Regex(std::string_view pattern);

  struct Match {
    size_t begin, end;
  };
  // All matches in `subject` (valid UTF-8), left to right, as Onig's find_iter yields them:
  // an empty match right where the previous match ended is skipped. Appends to `out`.
  void find_all(std::string_view subject, std::vector<Match>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<void> code_;  // pcre2_code_8, freed with pcre2_code_free_8
  bool jit_ = false;
};

}  // namespace dsvl::tokenizer
