#include "runtime/json_acceptor.h"

#include <algorithm>
#include <cstring>

namespace dsvl::runtime::json {
namespace {

enum DocPhase : uint8_t { kDocStart, kDocEnd };
enum ObjectPhase : uint8_t { kObjOpen, kObjNeedKey, kObjInKey, kObjColon, kObjValue, kObjAfter };
enum ArrayPhase : uint8_t { kArrOpen, kArrAfter, kArrNext };
enum StringPhase : uint8_t { kChars, kEscape, kHex };
enum NumberPhase : uint8_t {
  kNumStart,
  kNumSign,
  kNumZero,
  kNumInt,
  kNumDot,
  kNumFrac,
  kNumE,
  kNumESign,
  kNumExp
};
constexpr int64_t kMaxIntDigits = 15, kMaxFracDigits = 15,
                  kMaxExpDigits = 2;  // stays finite as a double
constexpr int64_t kFreeKeyBytes = 4;  // the shortest member of a free object: "":0

bool is_ws(uint8_t b) { return b == ' ' || b == '\n' || b == '\t' || b == '\r'; }
bool is_digit(uint8_t b) { return b >= '0' && b <= '9'; }
bool is_hex(uint8_t b) { return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }
bool number_can_end(uint8_t phase) {
  return phase == kNumZero || phase == kNumInt || phase == kNumFrac || phase == kNumExp;
}

}  // namespace

Acceptor::Acceptor(const Grammar& grammar) : g_(&grammar) {
  n_ = 1;
  frames_[0] = Frame{};
  frames_[0].kind = kDoc;
  frames_[0].node = grammar.root;
}

Acceptor& Acceptor::operator=(const Acceptor& o) {
  g_ = o.g_;
  n_ = o.n_;
  std::memcpy(frames_.data(), o.frames_.data(), sizeof(Frame) * size_t(n_));  // the live part
  return *this;
}

bool Acceptor::push(std::string_view bytes) {
  for (char c : bytes)
    if (!push(uint8_t(c))) return false;
  return true;
}

bool Acceptor::push(uint8_t b) {
  for (;;) {  // a number or literal ends at the first byte that cannot extend it
    Frame& f = top();
    Step s = Step::kOk;
    switch (f.kind) {
      case kDoc:
        return doc_byte(f, b);
      case kObject:
        return object_byte(f, b);
      case kArray:
        return array_byte(f, b);
      case kString:
        return string_byte(f, b);
      case kKey:
        return key_byte(f, b);
      case kNumber:
        s = number_byte(f, b);
        break;
      case kLiteral:
        s = literal_byte(f, b);
        break;
    }
    if (s != Step::kPass) return s == Step::kOk;
    --n_;  // the value is over: its parent sees the byte
  }
}

bool Acceptor::push_frame(FrameKind kind, int node_index) {
  if (n_ == kMaxFrames) return false;
  Frame& f = frames_[size_t(n_++)];
  f = Frame{};
  f.kind = kind;
  f.node = node_index;
  return true;
}

bool Acceptor::whitespace(Frame& f, uint8_t b) {
  if (!is_ws(b)) {
    f.ws = 0;
    return false;
  }
  return true;
}

// `b` is the first byte of a value of `node_index`: opens its frame.
bool Acceptor::start_value(int node_index, uint8_t b) {
  const Node& n = node(node_index);
  if (!n.first.test(b)) return false;
  switch (n.kind) {
    case Kind::kUnion:
      for (int a : n.alts)
        if (node(a).first.test(b)) return start_value(a, b);
      return false;
    case Kind::kObject:
    case Kind::kArray:
      if (n.free && n_ > kMaxFreeDepth) return false;
      return push_frame(n.kind == Kind::kObject ? kObject : kArray, node_index);
    case Kind::kString:
      return push_frame(kString, node_index);
    case Kind::kNumber:
    case Kind::kInteger:
      return push_frame(kNumber, node_index) && number_byte(top(), b) == Step::kOk;
    case Kind::kLiterals:
      if (!push_frame(kLiteral, node_index)) return false;
      top().last = uint16_t(n.literals.size());
      return literal_byte(top(), b) == Step::kOk;
  }
  return false;
}

bool Acceptor::doc_byte(Frame& f, uint8_t b) {
  if (f.phase != kDocStart) return false;  // the document is complete
  f.phase = kDocEnd;
  return start_value(f.node, b);
}

bool Acceptor::object_byte(Frame& f, uint8_t b) {
  if (whitespace(f, b)) return f.phase != kObjInKey && ++f.ws <= kMaxWhitespace;
  const Node& n = node(f.node);
  const bool required_done = (n.required & ~f.used) == 0;
  switch (f.phase) {
    case kObjOpen:
    case kObjNeedKey:
      if (b == '}' && f.phase == kObjOpen && required_done) {
        --n_;
        return true;
      }
      if (b != '"') return false;
      if (n.free_keys) {
        f.phase = kObjColon;
        return push_frame(kString, -1);  // a free key: any string
      }
      f.phase = kObjInKey;
      if (!push_frame(kKey, f.node)) return false;
      top().last = uint16_t(n.keys.size());
      return true;
    case kObjColon:
      if (b != ':') return false;
      f.phase = kObjValue;
      return true;
    case kObjValue:
      f.phase = kObjAfter;
      return start_value(n.key_nodes[n.free_keys ? 0 : size_t(f.count)], b);
    case kObjAfter:
      if (b == '}' && required_done) {
        --n_;
        return true;
      }
      if (b != ',') return false;
      if (!n.free_keys &&
          f.used == (n.keys.size() == 64 ? ~uint64_t(0) : (uint64_t(1) << n.keys.size()) - 1))
        return false;  // every property is there
      f.phase = kObjNeedKey;
      return true;
    default:
      return false;
  }
}

bool Acceptor::array_byte(Frame& f, uint8_t b) {
  if (whitespace(f, b)) return ++f.ws <= kMaxWhitespace;
  const Node& n = node(f.node);
  switch (f.phase) {
    case kArrOpen:
      if (b == ']') {
        if (n.min_items > 0) return false;
        --n_;
        return true;
      }
      if (n.max_items == 0) return false;
      [[fallthrough]];
    case kArrNext:
      ++f.count;
      f.phase = kArrAfter;
      return start_value(n.items, b);
    case kArrAfter:
      if (b == ']') {
        if (f.count < n.min_items) return false;
        --n_;
        return true;
      }
      if (b != ',' || (n.max_items >= 0 && f.count >= n.max_items)) return false;
      f.phase = kArrNext;
      return true;
    default:
      return false;
  }
}

// Strings: `node` < 0 for a free object's key (no length limits). f.first flags a \u escape
// that started with 'd', whose next digit must not make it a surrogate.
bool Acceptor::string_byte(Frame& f, uint8_t b) {
  if (f.aux > 0 && f.phase == kChars) {  // inside a multi-byte UTF-8 sequence
    if (b < f.lo || b > f.hi) return false;
    --f.aux;
    f.lo = 0x80;
    f.hi = 0xBF;
    return true;
  }
  const int64_t min_len = f.node >= 0 ? node(f.node).min_length : 0;
  const int64_t max_len = f.node >= 0 ? node(f.node).max_length : -1;
  switch (f.phase) {
    case kEscape:
      if (b == 'u') {
        f.phase = kHex;
        f.aux = 0;
        f.first = 0;
        return true;
      }
      if (!std::strchr("\"\\/bfnrt", b) || b == 0) return false;
      f.phase = kChars;
      return true;
    case kHex:
      if (!is_hex(b)) return false;
      if (f.aux == 0 && (b == 'd' || b == 'D')) f.first = 1;
      if (f.aux == 1 && f.first && !(b >= '0' && b <= '7')) return false;  // D800–DFFF
      if (++f.aux == 4) {
        f.phase = kChars;
        f.aux = 0;
      }
      return true;
    default:
      break;
  }
  if (b == '"') {
    if (f.count < min_len) return false;
    --n_;
    return true;
  }
  if (max_len >= 0 && f.count >= max_len) return false;
  if (b < 0x20) return false;
  if (b == '\\') {
    f.phase = kEscape;
  } else if (b >= 0x80) {
    // Well-formed UTF-8 only (RFC 3629 table 3-7): no overlongs, surrogates or > U+10FFFF.
    if (b >= 0xC2 && b <= 0xDF) {
      f.aux = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      f.aux = 2;
      if (b == 0xE0) f.lo = 0xA0;
      if (b == 0xED) f.hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      f.aux = 3;
      if (b == 0xF0) f.lo = 0x90;
      if (b == 0xF4) f.hi = 0x8F;
    } else {
      return false;
    }
  }
  ++f.count;
  return true;
}

// A schema object's key: the candidates are the unused keys in [first, last) whose first
// `off` bytes were typed.
bool Acceptor::key_byte(Frame& f, uint8_t b) {
  Frame& obj = frames_[size_t(n_ - 2)];
  const Node& n = node(f.node);
  if (b == '"') {
    for (size_t i = f.first; i < f.last; ++i)
      if (n.keys[i].size() == f.off && !(obj.used >> i & 1)) {
        obj.used |= uint64_t(1) << i;
        obj.count = int64_t(i);
        obj.phase = kObjColon;
        --n_;
        return true;
      }
    return false;
  }
  size_t lo = f.last, hi = f.first;
  for (size_t i = f.first; i < f.last; ++i)
    if (!(obj.used >> i & 1) && n.keys[i].size() > f.off && uint8_t(n.keys[i][f.off]) == b) {
      lo = std::min(lo, i);
      hi = i + 1;
    }
  if (lo >= hi) return false;
  f.first = uint16_t(lo);
  f.last = uint16_t(hi);
  ++f.off;
  return true;
}

Acceptor::Step Acceptor::number_byte(Frame& f, uint8_t b) {
  const bool integer = node(f.node).kind == Kind::kInteger;
  const bool digit = is_digit(b);
  auto fraction_or_exponent = [&]() {
    if (integer) return false;
    if (b == '.')
      f.phase = kNumDot;
    else if (b == 'e' || b == 'E')
      f.phase = kNumE;
    else
      return false;
    return true;
  };
  auto start_int = [&]() {
    if (b == '0')
      f.phase = kNumZero;
    else if (digit)
      f.phase = kNumInt, f.count = 1;
    else
      return false;
    return true;
  };
  switch (f.phase) {
    case kNumStart:
      if (b == '-') {
        f.phase = kNumSign;
        return Step::kOk;
      }
      return start_int() ? Step::kOk : Step::kReject;
    case kNumSign:
      return start_int() ? Step::kOk : Step::kReject;
    case kNumZero:
      if (digit) return Step::kReject;
      return fraction_or_exponent() ? Step::kOk : Step::kPass;
    case kNumInt:
      if (digit) return ++f.count <= kMaxIntDigits ? Step::kOk : Step::kReject;
      return fraction_or_exponent() ? Step::kOk : Step::kPass;
    case kNumDot:
      if (!digit) return Step::kReject;
      f.phase = kNumFrac;
      f.count = 1;
      return Step::kOk;
    case kNumFrac:
      if (digit) return ++f.count <= kMaxFracDigits ? Step::kOk : Step::kReject;
      if (b == 'e' || b == 'E') {
        f.phase = kNumE;
        return Step::kOk;
      }
      return Step::kPass;
    case kNumE:
      if (b == '+' || b == '-') {
        f.phase = kNumESign;
        return Step::kOk;
      }
      [[fallthrough]];
    case kNumESign:
      if (!digit) return Step::kReject;
      f.phase = kNumExp;
      f.count = 1;
      return Step::kOk;
    case kNumExp:
      if (digit) return ++f.count <= kMaxExpDigits ? Step::kOk : Step::kReject;
      return Step::kPass;
    default:
      return Step::kReject;
  }
}

// Literals are sorted, so the candidates that share the typed prefix are a range, and the
// one equal to the prefix (if any) is its first entry.
Acceptor::Step Acceptor::literal_byte(Frame& f, uint8_t b) {
  const auto& lits = node(f.node).literals;
  size_t lo = f.last, hi = f.first;
  for (size_t i = f.first; i < f.last; ++i)
    if (lits[i].size() > f.off && uint8_t(lits[i][f.off]) == b) {
      lo = std::min(lo, i);
      hi = i + 1;
    }
  if (lo < hi) {
    f.first = uint16_t(lo);
    f.last = uint16_t(hi);
    ++f.off;
    return Step::kOk;
  }
  return lits[f.first].size() == f.off ? Step::kPass : Step::kReject;
}

bool Acceptor::can_end() const {
  if (n_ == 1) return frames_[0].phase == kDocEnd;
  if (n_ != 2) return false;
  const Frame& f = frames_[1];
  if (f.kind == kNumber) return number_can_end(f.phase);
  if (f.kind == kLiteral) return node(f.node).literals[f.first].size() == f.off;
  return false;
}

Acceptor::InString Acceptor::in_string() const {
  const Frame& f = frames_[size_t(n_ - 1)];
  if (f.kind != kString || f.phase != kChars || f.aux != 0) return {};
  const int64_t min_len = f.node >= 0 ? node(f.node).min_length : 0;
  const int64_t max_len = f.node >= 0 ? node(f.node).max_length : -1;
  return {true, max_len < 0 ? INT64_MAX : max_len - f.count,
          std::max<int64_t>(0, min_len - f.count)};
}

bool Acceptor::complete() const { return n_ == 1 && frames_[0].phase == kDocEnd; }

int64_t Acceptor::missing_cost(const Frame& obj) const {
  const Node& n = node(obj.node);
  int64_t sum = 0;
  for (uint64_t m = n.required & ~obj.used; m; m &= m - 1)
    sum += 1 + n.item_bytes[size_t(__builtin_ctzll(m))];
  return sum;
}

int64_t Acceptor::object_cost(const Frame& f) const {
  const Node& n = node(f.node);
  const int64_t missing = missing_cost(f);  // each with its comma
  auto value = [&] { return node(n.key_nodes[n.free_keys ? 0 : size_t(f.count)]).min_bytes; };
  switch (f.phase) {
    case kObjOpen:
      return missing > 0 ? missing - 1 + 1 : 1;  // no comma before the first member
    case kObjNeedKey: {
      if (missing > 0) return missing - 1 + 1;
      if (n.free_keys) return kFreeKeyBytes + 1;
      int64_t best = INT64_MAX;
      for (size_t i = 0; i < n.keys.size(); ++i)
        if (!(f.used >> i & 1)) best = std::min(best, n.item_bytes[i]);
      return best + 1;
    }
    case kObjColon:
      return 1 + value() + missing + 1;
    case kObjValue:
      return value() + missing + 1;
    default:  // kObjAfter (the value's own frame, if any, counts itself)
      return missing + 1;
  }
}

// A key being typed and its object together: the cheapest candidate key, its colon and
// value, then the object's other missing keys and the closing brace.
int64_t Acceptor::key_cost(const Frame& key, const Frame& obj) const {
  const Node& n = node(obj.node);
  const int64_t missing = missing_cost(obj);
  int64_t best = INT64_MAX;
  for (size_t i = key.first; i < key.last; ++i) {
    if (obj.used >> i & 1) continue;
    const int64_t rest = n.required >> i & 1 ? missing - 1 - n.item_bytes[i] : missing;
    const int64_t c =
        int64_t(n.keys[i].size()) - key.off + 2 + node(n.key_nodes[i]).min_bytes + rest + 1;
    best = std::min(best, c);
  }
  return best;
}

int64_t Acceptor::array_cost(const Frame& f) const {
  const Node& n = node(f.node);
  const int64_t item = node(n.items).min_bytes;
  switch (f.phase) {
    case kArrOpen:
      return n.min_items == 0 ? 1 : n.min_items * item + n.min_items - 1 + 1;
    case kArrAfter:
      return std::max<int64_t>(0, n.min_items - f.count) * (1 + item) + 1;
    default: {  // kArrNext: a value must follow the comma
      const int64_t need = std::max<int64_t>(1, n.min_items - f.count);
      return need * item + need - 1 + 1;
    }
  }
}

int64_t Acceptor::min_bytes_to_end() const {
  int64_t total = 0;
  for (int i = n_ - 1; i >= 0; --i) {
    const Frame& f = frames_[size_t(i)];
    switch (f.kind) {
      case kDoc:
        total += f.phase == kDocStart ? node(f.node).min_bytes : 0;
        break;
      case kObject:
        total += object_cost(f);
        break;
      case kKey:
        total += key_cost(f, frames_[size_t(i - 1)]);
        --i;  // the object is counted with its key
        break;
      case kArray:
        total += array_cost(f);
        break;
      case kString: {
        const int64_t min_len = f.node >= 0 ? node(f.node).min_length : 0;
        total += 1 + std::max<int64_t>(0, min_len - f.count);
        if (f.phase == kChars) total += f.aux;
        if (f.phase == kEscape) total += 1;
        if (f.phase == kHex) total += 4 - f.aux;
        break;
      }
      case kNumber:
        total += number_can_end(f.phase) ? 0 : 1;
        break;
      case kLiteral: {
        const auto& lits = node(f.node).literals;
        int64_t best = INT64_MAX;
        for (size_t k = f.first; k < f.last; ++k)
          best = std::min(best, int64_t(lits[k].size()) - f.off);
        total += best;
        break;
      }
    }
  }
  return total;
}

}  // namespace dsvl::runtime::json
