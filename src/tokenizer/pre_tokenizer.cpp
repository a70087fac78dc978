#include "tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace dsvl::tokenizer {
namespace {

// The regex ByteLevel splits with when use_regex is true (GPT-2's), from tokenizers'
// pre_tokenizers/byte_level.rs.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Builds the segments covering `piece` from regex matches, like Pattern::find_matches for
// onig regexes (matches are relative to the piece).
void segments_from_matches(Span piece, const std::vector<Regex::Match>& matches, bool invert,
                           std::vector<Segment>& segs) {
  segs.clear();
  uint32_t prev = 0;
  for (const auto& m : matches) {
    auto b = static_cast<uint32_t>(m.begin), e = static_cast<uint32_t>(m.end);
    if (prev != b) segs.push_back({{piece.begin + prev, piece.begin + b}, invert});
    segs.push_back({{piece.begin + b, piece.begin + e}, !invert});
    prev = e;
  }
  if (prev != piece.size()) segs.push_back({{piece.begin + prev, piece.end}, invert});
}

class RegexSplit final : public PreTokenizerStep {
 public:
  RegexSplit(std::string_view pattern, SplitBehavior behavior, bool invert)
      : regex_(pattern), behavior_(behavior), invert_(invert) {}

  void split(std::string& buf, Span piece, std::vector<Span>& out) const override {
    thread_local std::vector<Regex::Match> matches;
    thread_local std::vector<Segment> segs;
    matches.clear();
    regex_.find_all(std::string_view(buf).substr(piece.begin, piece.size()), matches);
    segments_from_matches(piece, matches, invert_, segs);
    apply_split_behavior(segs, behavior_, out);
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

// Digits: splits on Rust's char::is_numeric, each numeral alone (individual_digits) or
// runs of them together.
class DigitsSplit final : public PreTokenizerStep {
 public:
  explicit DigitsSplit(bool individual) : individual_(individual) {}

  void split(std::string& buf, Span piece, std::vector<Span>& out) const override {
    thread_local std::vector<Segment> segs;
    segs.clear();
    std::string_view text = std::string_view(buf).substr(piece.begin, piece.size());
    uint32_t last = 0;
    for (size_t i = 0; i < text.size();) {
      auto b = static_cast<uint32_t>(i);
      char32_t cp = unicode::next_code_point(text, i);
      if (!unicode::is_numeric(cp)) continue;
      if (last < b) segs.push_back({{piece.begin + last, piece.begin + b}, false});
      last = static_cast<uint32_t>(i);
      segs.push_back({{piece.begin + b, piece.begin + last}, true});
    }
    if (last < text.size()) segs.push_back({{piece.begin + last, piece.end}, false});
    apply_split_behavior(segs, individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                         out);
  }

 private:
  bool individual_;
};

// ByteLevel's splitting part: optional prefix space, then the GPT-2 regex (Isolated).
class ByteLevelSplit final : public PreTokenizerStep {
 public:
  ByteLevelSplit(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), regex_(use_regex ? new Regex(kGpt2Pattern) : nullptr) {}

  void split(std::string& buf, Span piece, std::vector<Span>& out) const override {
    if (add_prefix_space_ && buf[piece.begin] != ' ') {
      std::string moved(1, ' ');
      moved.append(buf, piece.begin, piece.size());
      piece = {static_cast<uint32_t>(buf.size()), static_cast<uint32_t>(buf.size() + moved.size())};
      buf += moved;
    }
    if (!regex_) {
      out.push_back(piece);
      return;
    }
    thread_local std::vector<Regex::Match> matches;
    thread_local std::vector<Segment> segs;
    matches.clear();
    regex_->find_all(std::string_view(buf).substr(piece.begin, piece.size()), matches);
    segments_from_matches(piece, matches, false, segs);
    apply_split_behavior(segs, SplitBehavior::kIsolated, out);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

SplitBehavior parse_behavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  throw ConfigError("Split behavior \"" + s + "\" is unknown");
}

std::shared_ptr<PreTokenizerStep> parse_split(const nlohmann::json& j) {
  auto it = j.find("pattern");
  if (it == j.end() || !it->is_object()) json_fail("pre_tokenizer Split", "pattern", "missing");
  std::string pattern;
  if (it->contains("Regex")) {
    pattern = json_string(*it, "Regex", "pre_tokenizer Split pattern");
  } else if (it->contains("String")) {
    pattern = regex_escape(json_string(*it, "String", "pre_tokenizer Split pattern"));
  } else {
    json_fail("pre_tokenizer Split", "pattern", "has neither \"Regex\" nor \"String\"");
  }
  return std::make_shared<RegexSplit>(pattern,
                                      parse_behavior(json_string(j, "behavior", "pre_tokenizer Split")),
                                      json_bool(j, "invert", false, "pre_tokenizer Split"));
}

}  // namespace

void apply_split_behavior(const std::vector<Segment>& segs, SplitBehavior behavior,
                          std::vector<Span>& out) {
  auto emit = [&](Span s) {
    if (s.begin != s.end) out.push_back(s);
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& s : segs) emit(s.span);
      return;
    case SplitBehavior::kRemoved:
      for (const auto& s : segs)
        if (!s.is_match) emit(s.span);
      return;
    default:
      break;
  }
  // The folds of NormalizedString::split: a segment joins its neighbour under a rule that
  // depends on whether it and the previous segment matched.
  thread_local std::vector<Span> acc;
  acc.clear();
  bool previous_match = false;
  if (behavior == SplitBehavior::kMergedWithNext) {
    for (size_t k = segs.size(); k-- > 0;) {
      const Segment& s = segs[k];
      if (s.is_match && !previous_match && !acc.empty())
        acc.back().begin = s.span.begin;
      else
        acc.push_back(s.span);
      previous_match = s.is_match;
    }
    for (size_t k = acc.size(); k-- > 0;) emit(acc[k]);
    return;
  }
  for (const auto& s : segs) {
    bool join = behavior == SplitBehavior::kContiguous ? s.is_match == previous_match
                                                       : (s.is_match && !previous_match);
    if (join && !acc.empty())
      acc.back().end = s.span.end;
    else
      acc.push_back(s.span);
    previous_match = s.is_match;
  }
  for (const auto& s : acc) emit(s);
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (!j.is_null()) p.add(j);
  if (!p.has_byte_level_)
    throw ConfigError(
        "pre_tokenizer has no ByteLevel step; only byte-level BPE tokenizers "
        "are supported");
  return p;
}

void PreTokenizer::add(const nlohmann::json& j) {
  std::string type = json_type(j, "pre_tokenizer");
  if (type == "Sequence") {
    for (const auto& sub : json_array(j, "pretokenizers", "pre_tokenizer Sequence")) add(sub);
    return;
  }
  if (has_byte_level_)
    throw ConfigError("pre_tokenizer step \"" + type +
                      "\" after ByteLevel is not supported (ByteLevel must come last)");
  const char* what = "pre_tokenizer";
  if (type == "Split") {
    steps_.push_back(parse_split(j));
  } else if (type == "Digits") {
    steps_.push_back(
        std::make_shared<DigitsSplit>(json_bool(j, "individual_digits", false, what)));
  } else if (type == "ByteLevel") {
    steps_.push_back(std::make_shared<ByteLevelSplit>(json_bool(j, "add_prefix_space", true, what),
                                                      json_bool(j, "use_regex", true, what)));
    has_byte_level_ = true;
  } else {
    throw ConfigError("pre_tokenizer type \"" + type +
                      "\" is not supported (supported: Sequence, Split, Digits, ByteLevel)");
  }
}

void PreTokenizer::run(std::string& buf, Span segment, std::vector<Span>& out) const {
  if (segment.begin == segment.end) return;
  // One scratch vector per step; the recursion goes depth first so each stays small.
  thread_local std::vector<std::vector<Span>> levels;
  if (levels.size() < steps_.size()) levels.resize(steps_.size());
  run_from(0, buf, segment, levels, out);
}

void PreTokenizer::run_from(size_t step, std::string& buf, Span piece,
                            std::vector<std::vector<Span>>& levels, std::vector<Span>& out) const {
  if (step + 1 == steps_.size()) {
    steps_[step]->split(buf, piece, out);
    return;
  }
  std::vector<Span>& level = levels[step];
  level.clear();
  steps_[step]->split(buf, piece, level);
  // `level` is not touched by deeper steps, which use their own vectors.
  for (size_t k = 0; k < level.size(); ++k) run_from(step + 1, buf, level[k], levels, out);
}

}  // namespace dsvl::tokenizer
