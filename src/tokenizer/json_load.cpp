#include "tokenizer/json_load.h"

#include "core/error.h"

namespace dsvl::tokenizer {
namespace {

using json = nlohmann::json;

// Forwards SAX events to nlohmann's DOM builder, except inside model.vocab and
// model.merges, whose entries it collects itself (the DOM gets a null there).
class TokenizerSax {
 public:
  TokenizerSax(json& root, BpeTables& tables) : dom_(root), t_(tables) {}

  bool null() { return capturing() ? bad("null") : dom_.null(); }
  bool boolean(bool v) { return capturing() ? bad("a boolean") : dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) {
    return integer(v, [&] { return dom_.number_integer(v); });
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return integer(static_cast<int64_t>(v), [&] { return dom_.number_unsigned(v); });
  }
  bool number_float(json::number_float_t v, const std::string& s) {
    return capturing() ? bad("the number " + s) : dom_.number_float(v, s);
  }
  bool binary(json::binary_t& b) { return capturing() ? bad("binary data") : dom_.binary(b); }

  bool string(std::string& s) {
    if (mode_ == Mode::kVocab) return bad("a string");
    if (mode_ == Mode::kMerges) {
      if (depth_ == kCaptureDepth) {
        t_.merges.push_back({std::move(s), {}, true});
      } else if (parts_.size() < 2) {
        parts_.push_back(std::move(s));
      } else {
        return bad("a merge pair with more than two tokens");
      }
      return true;
    }
    return dom_.string(s);
  }

  bool key(std::string& k) {
    if (mode_ == Mode::kVocab) {
      key_ = std::move(k);
      return true;
    }
    if (capturing()) return bad("an object");
    if (depth_ < static_cast<int>(keys_.size())) keys_[depth_] = k;
    return dom_.key(k);
  }

  bool start_object(std::size_t n) {
    if (mode_ != Mode::kDom) return bad("an object");
    if (at("vocab")) {
      mode_ = Mode::kVocab;
      t_.has_vocab = true;
      ++depth_;
      return dom_.null();
    }
    enter();
    return dom_.start_object(n);
  }
  bool end_object() {
    --depth_;
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    return dom_.end_object();
  }

  bool start_array(std::size_t n) {
    if (mode_ == Mode::kMerges) {
      if (depth_ != kCaptureDepth) return bad("a nested array");
      ++depth_;
      parts_.clear();
      return true;
    }
    if (mode_ == Mode::kVocab) return bad("an array");
    if (at("merges")) {
      mode_ = Mode::kMerges;
      t_.has_merges = true;
      ++depth_;
      return dom_.null();
    }
    enter();
    return dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    if (mode_ == Mode::kMerges) {
      if (depth_ == kCaptureDepth) {
        if (parts_.size() != 2) return bad("a merge pair without two tokens");
        t_.merges.push_back({std::move(parts_[0]), std::move(parts_[1]), false});
      } else {
        mode_ = Mode::kDom;
      }
      return true;
    }
    return dom_.end_array();
  }

  bool parse_error(std::size_t pos, const std::string& tok, const nlohmann::detail::exception& e) {
    return dom_.parse_error(pos, tok, e);
  }

 private:
  enum class Mode { kDom, kVocab, kMerges };
  static constexpr int kCaptureDepth = 3;  // inside {top: {model: {vocab: HERE}}}

  bool capturing() const { return mode_ != Mode::kDom; }
  void enter() {
    ++depth_;
    if (depth_ < static_cast<int>(keys_.size())) keys_[depth_].clear();
  }
  // Whether the value starting now is model.<name>.
  bool at(const char* name) const { return depth_ == 2 && keys_[1] == "model" && keys_[2] == name; }

  template <class Forward>
  bool integer(int64_t v, Forward forward) {
    if (mode_ == Mode::kVocab) {
      t_.vocab.emplace_back(std::move(key_), v);
      return true;
    }
    if (mode_ == Mode::kMerges) return bad("a number");
    return forward();
  }

  [[noreturn]] bool bad(const std::string& what) {
    std::string where = mode_ == Mode::kVocab ? "vocab[\"" + key_ + "\"]"
                                              : "merges[" + std::to_string(t_.merges.size()) + "]";
    throw ConfigError("model: " + where + " holds " + what + " where " +
                      (mode_ == Mode::kVocab ? "a token id" : "a merge") + " was expected");
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  BpeTables& t_;
  Mode mode_ = Mode::kDom;
  int depth_ = 0;
  std::vector<std::string> keys_ = std::vector<std::string>(4);  // key per object depth
  std::string key_;
  std::vector<std::string> parts_;
};

}  // namespace

json parse_tokenizer_json(std::string_view text, const std::string& origin, BpeTables& tables) {
  json root;
  TokenizerSax sax(root, tables);
  try {
    json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const json::exception& e) {
    throw IoError(origin + ": invalid JSON (" + e.what() + ")");
  }
  return root;
}

void tables_from_dom(const json& m, BpeTables& t) {
  if (auto v = m.find("vocab"); v != m.end() && v->is_object()) {
    t.has_vocab = true;
    for (const auto& [token, id] : v->items()) {
      if (!id.is_number_integer())
        throw ConfigError("model: vocab[\"" + token + "\"] = " + id.dump() + " is not a valid id");
      t.vocab.emplace_back(token, id.get<int64_t>());
    }
  }
  if (auto ms = m.find("merges"); ms != m.end() && ms->is_array()) {
    t.has_merges = true;
    for (const auto& e : *ms) {
      if (e.is_string())
        t.merges.push_back({e.get<std::string>(), {}, true});
      else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string())
        t.merges.push_back({e[0].get<std::string>(), e[1].get<std::string>(), false});
      else
        throw ConfigError("model: merges holds " + e.dump() + " where a merge was expected");
    }
  }
}

}  // namespace dsvl::tokenizer
