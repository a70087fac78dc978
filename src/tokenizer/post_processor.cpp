// tokenizer.json "post_processor", reduced to what it adds around a single sequence when
// special tokens are requested (offsets and pairs play no role here).
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/tokenizer_state.h"

namespace dsvl::tokenizer {
namespace {

constexpr const char* kWhat = "post_processor";

// RobertaProcessing / BertProcessing keep a token as ["<s>", 0].
int32_t pair_id(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer())
    json_fail(kWhat, key, "is not a [token, id] pair");
  return (*it)[1].get<int32_t>();
}

SpecialTokensRule parse_template(const nlohmann::json& j) {
  SpecialTokensRule rule;
  const auto& single = json_array(j, "single", "post_processor TemplateProcessing");
  auto specials = j.find("special_tokens");
  bool seen_sequence = false;
  for (const auto& piece : single) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    auto st = piece.find("SpecialToken");
    if (st == piece.end())
      json_fail("post_processor TemplateProcessing", "single",
                "has a piece that is neither SpecialToken nor Sequence: " + piece.dump());
    std::string name = json_string(*st, "id", "post_processor TemplateProcessing SpecialToken");
    if (specials == j.end() || !specials->contains(name))
      json_fail("post_processor TemplateProcessing", "special_tokens",
                "has no entry for \"" + name + "\"");
    const auto& ids = json_array((*specials)[name], "ids", "post_processor special token");
    auto& dst = seen_sequence ? rule.suffix : rule.prefix;
    for (const auto& id : ids) dst.push_back(id.get<int32_t>());
  }
  return rule;
}

}  // namespace

SpecialTokensRule parse_post_processor(const nlohmann::json& j) {
  if (j.is_null()) return {};
  std::string type = json_type(j, kWhat);
  if (type == "ByteLevel") return {};  // only trims offsets
  if (type == "TemplateProcessing") return parse_template(j);
  if (type == "RobertaProcessing" || type == "BertProcessing")
    return {{pair_id(j, "cls")}, {pair_id(j, "sep")}};
  if (type == "Sequence") {
    // Each processor wraps the output of the one before it.
    SpecialTokensRule all;
    for (const auto& sub : json_array(j, "processors", "post_processor Sequence")) {
      SpecialTokensRule r = parse_post_processor(sub);
      all.prefix.insert(all.prefix.begin(), r.prefix.begin(), r.prefix.end());
      all.suffix.insert(all.suffix.end(), r.suffix.begin(), r.suffix.end());
    }
    return all;
  }
  throw ConfigError("post_processor type \"" + type +
                    "\" is not supported (supported: ByteLevel, TemplateProcessing, "
                    "RobertaProcessing, BertProcessing, Sequence, null)");
}

}  // namespace dsvl::tokenizer
