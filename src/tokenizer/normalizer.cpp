#include "tokenizer/normalizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/unicode.h"

namespace dsvl::tokenizer {

Normalizer Normalizer::from_json(const nlohmann::json& j) {
  Normalizer n;
  if (!j.is_null()) n.add(j);
  return n;
}

void Normalizer::add(const nlohmann::json& j) {
  std::string type = json_type(j, "normalizer");
  if (type == "Sequence") {
    for (const auto& sub : json_array(j, "normalizers", "normalizer Sequence")) add(sub);
  } else if (type == "NFC") {
    steps_.push_back(Step::kNfc);
  } else if (type == "NFD") {
    steps_.push_back(Step::kNfd);
  } else {
    throw ConfigError("normalizer type \"" + type +
                      "\" is not supported (supported: NFC, NFD, Sequence, null)");
  }
}

std::string Normalizer::normalize(std::string_view s) const {
  std::string out(s);
  for (Step step : steps_) out = step == Step::kNfc ? unicode::nfc(out) : unicode::nfd(out);
  return out;
}

}  // namespace dsvl::tokenizer
