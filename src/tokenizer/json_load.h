// Parsing tokenizer.json fast: the model's vocabulary and merges (hundreds of thousands of
// entries, most of the file) go straight into flat vectors through nlohmann's SAX interface
// instead of a DOM of map nodes; everything else becomes an ordinary nlohmann::json, with
// null in place of "vocab" and "merges". About 3x faster to load than a full DOM.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dsvl::tokenizer {

// One entry of "merges": a "a b" line (second empty, is_line) or a ["a", "b"] pair.
struct RawMerge {
  std::string first, second;
  bool is_line = false;
};

struct BpeTables {
  bool has_vocab = false, has_merges = false;
  std::vector<std::pair<std::string, int64_t>> vocab;  // file order; a later duplicate wins
  std::vector<RawMerge> merges;
};

// Parses a whole tokenizer.json. Throws IoError naming `origin` on malformed JSON and
// ConfigError when vocab / merges entries have the wrong types.
nlohmann::json parse_tokenizer_json(std::string_view text, const std::string& origin,
                                    BpeTables& tables);

// The same tables from an already parsed "model" object (vocab and merges present).
void tables_from_dom(const nlohmann::json& model, BpeTables& tables);

}  // namespace dsvl::tokenizer
