// tokenizer.json "pre_tokenizer": cuts normalized text into the pieces that BPE encodes one
// by one. Supported: Sequence, Split (Regex or String pattern, every behavior, invert),
// Digits, and ByteLevel (its GPT-2 regex when use_regex, add_prefix_space), which must be
// the last step: the byte-level mapping itself is implicit, because BPE works on raw bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsvl::tokenizer {

// A byte range [begin, end) of a text buffer. Offsets stay valid when the buffer grows.
struct Span {
  uint32_t begin = 0, end = 0;
  uint32_t size() const { return end - begin; }
};

// How a Split treats what its pattern matched (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// The pattern's view of one piece: consecutive ranges covering it, each a match or not.
struct Segment {
  Span span;
  bool is_match;
};

// Applies `behavior` to `segments` (which cover one piece) and appends the resulting
// non-empty pieces to `out`, exactly as NormalizedString::split does.
void apply_split_behavior(const std::vector<Segment>& segments, SplitBehavior behavior,
                          std::vector<Span>& out);

// One step of the sequence. `buf` holds the text; a step may append to it (ByteLevel's
// prefix space) and must then re-read it, as earlier string_views become invalid.
class PreTokenizerStep {
 public:
  virtual ~PreTokenizerStep() = default;
  virtual void split(std::string& buf, Span piece, std::vector<Span>& out) const = 0;
};

class PreTokenizer {
 public:
  // Parses the "pre_tokenizer" value; ConfigError naming the type for anything unsupported
  // or when there is no final ByteLevel step.
  static PreTokenizer from_json(const nlohmann::json& j);

  // Splits buf[segment] into pieces, appended to `out` in text order.
  void run(std::string& buf, Span segment, std::vector<Span>& out) const;

 private:
  void add(const nlohmann::json& j);
  void run_from(size_t step, std::string& buf, Span piece, std::vector<std::vector<Span>>& levels,
                std::vector<Span>& out) const;
  std::vector<std::shared_ptr<const PreTokenizerStep>> steps_;
  bool has_byte_level_ = false;
};

}  // namespace dsvl::tokenizer
