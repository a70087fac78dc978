// tokenizer.json "normalizer": applied to the text between added tokens before
// pre-tokenization. Supported: null, NFC, NFD and Sequence of those.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsvl::tokenizer {

class Normalizer {
 public:
  // Parses the "normalizer" value; ConfigError naming the type for anything unsupported.
  static Normalizer from_json(const nlohmann::json& j);

  bool is_identity() const { return steps_.empty(); }
  // s must be valid UTF-8.
  std::string normalize(std::string_view s) const;

 private:
  enum class Step { kNfc, kNfd };
  void add(const nlohmann::json& j);
  std::vector<Step> steps_;
};

}  // namespace dsvl::tokenizer
