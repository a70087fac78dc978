// An incremental acceptor of JSON documents of a grammar (json_schema.h), over bytes: it
// says whether a byte can extend the text so far towards a valid document, whether the text
// is a complete document, and how many bytes at least are still needed to complete it
// (so that decoding can close the document before its token budget runs out).
//
// The documents it accepts are a strict subset of JSON, chosen so that generation ends:
// no whitespace before the value nor after it, at most kMaxWhitespace whitespace bytes in a
// row, numbers of at most 15 integer, 15 fraction and 2 exponent digits, integers without fraction
// or exponent, strings of valid UTF-8 without lone surrogate escapes, free-form ("any") objects and
// arrays nested at most kMaxFreeDepth deep. Every accepted document parses as JSON and matches the
// schema.
//
// The state is a fixed-size stack copied in O(depth), so a decoder tries a candidate token
// on a copy: `Acceptor t = a; if (t.push(bytes)) ...`.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "runtime/json_schema.h"

namespace dsvl::runtime::json {

inline constexpr int kMaxWhitespace = 24;
inline constexpr int kMaxFreeDepth = 10;

class Acceptor {
 public:
  explicit Acceptor(const Grammar& grammar);
  Acceptor(const Acceptor& o) { *this = o; }
  Acceptor& operator=(const Acceptor& o);

  // Appends one byte; false when no valid document continues with it (the acceptor is then
  // in an unspecified state: work on a copy).
  bool push(uint8_t b);
  bool push(std::string_view bytes);
  // The text so far is a whole document.
  bool can_end() const;
  // ... and nothing may follow it.
  bool complete() const;
  // The fewest bytes that turn the text so far into a whole document.
  int64_t min_bytes_to_end() const;

  // When the text ends inside a string, between characters: how many more code points the
  // string may take (INT64_MAX: no limit) and how many it still needs. Text without '"',
  // '\\', control characters or broken UTF-8 then only adds code points (the fast path of
  // constrained decoding, where most of the vocabulary is such text).
  struct InString {
    bool active = false;
    int64_t room = 0, missing = 0;
  };
  InString in_string() const;

 private:
  enum FrameKind : uint8_t { kDoc, kObject, kArray, kString, kKey, kNumber, kLiteral };
  struct Frame {
    FrameKind kind = kDoc;
    uint8_t phase = 0;
    uint8_t ws = 0;                // whitespace bytes in a row
    uint8_t aux = 0;               // string: UTF-8 continuation bytes due, or hex digits seen
    uint8_t lo = 0x80, hi = 0xBF;  // string: range of the next continuation byte
    int32_t node = 0;
    uint16_t first = 0, last = 0;  // key/literal: candidate range [first, last)
    uint16_t off = 0;              // key/literal: bytes matched
    int64_t count = 0;             // string: code points; array: items; number: digits; object: key
    uint64_t used = 0;             // object: keys present
  };
  enum class Step { kOk, kReject, kPass };  // kPass: the value ended before this byte

  static constexpr int kMaxFrames = 40;

  Frame& top() { return frames_[size_t(n_ - 1)]; }
  const Node& node(int i) const { return g_->nodes[size_t(i)]; }
  bool push_frame(FrameKind kind, int node);
  bool start_value(int node, uint8_t b);
  bool doc_byte(Frame& f, uint8_t b);
  bool object_byte(Frame& f, uint8_t b);
  bool array_byte(Frame& f, uint8_t b);
  bool string_byte(Frame& f, uint8_t b);
  bool key_byte(Frame& f, uint8_t b);
  Step number_byte(Frame& f, uint8_t b);
  Step literal_byte(Frame& f, uint8_t b);
  bool whitespace(Frame& f, uint8_t b);

  int64_t object_cost(const Frame& f) const;
  int64_t key_cost(const Frame& key, const Frame& object) const;
  int64_t array_cost(const Frame& f) const;
  int64_t missing_cost(const Frame& object) const;  // Σ over missing required keys of 1 + item

  const Grammar* g_;
  int n_ = 0;
  std::array<Frame, kMaxFrames> frames_;
};

}  // namespace dsvl::runtime::json
