// The grammar behind response_format {"type": "json_object"} and {"type": "json_schema"}:
// a JSON Schema (the subset OpenAI's structured outputs use) compiled into a small graph of
// nodes that json_acceptor.h walks byte by byte.
//
// Supported: type (a name or a list of names), object (properties, required; other keys are
// never generated, as in OpenAI's strict mode), array (items, minItems, maxItems), string
// (minLength, maxLength), number, integer, boolean, null, enum, const, anyOf / oneOf whose
// alternatives start with different characters, allOf with one entry, nesting. Ignored
// (accepted, not enforced): format, pattern, minimum/maximum, descriptions and titles.
// Refused with a RequestError naming the keyword: $ref, prefixItems, patternProperties,
// not, if/then/else, and anything that would make the grammar ambiguous.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dsvl::runtime::json {

enum class Kind : uint8_t { kObject, kArray, kString, kNumber, kInteger, kLiterals, kUnion };

struct Node {
  Kind kind = Kind::kUnion;
  bool free = false;  // an object/array of the "any value" grammar (depth-limited)
  // kObject: property names as they appear between the quotes (JSON-escaped), sorted;
  // key_nodes[i] is the value of keys[i]; item_bytes[i] = |"key":| + shortest value.
  // free_keys: any string keys with any values (no "properties").
  std::vector<std::string> keys;
  std::vector<int> key_nodes;
  std::vector<int64_t> item_bytes;
  uint64_t required = 0;  // bit i: keys[i] must appear
  bool free_keys = false;
  // kArray.
  int items = -1;
  int64_t min_items = 0, max_items = -1;  // -1: unbounded
  // kString (in code points).
  int64_t min_length = 0, max_length = -1;
  // kLiterals: the JSON texts (enum, const, true/false/null), sorted.
  std::vector<std::string> literals;
  // kUnion: the alternatives, with disjoint first bytes.
  std::vector<int> alts;

  std::bitset<256> first;  // bytes a value of this node can start with
  int64_t min_bytes = 1;   // length of the shortest value
};

struct Grammar {
  std::vector<Node> nodes;
  int root = 0;
};

// {"type": "json_object"}: any JSON object (values of any type, nesting bounded).
std::shared_ptr<const Grammar> object_grammar();
// A JSON Schema as text. RequestError for invalid JSON or an unsupported schema.
std::shared_ptr<const Grammar> schema_grammar(const std::string& schema_json);

}  // namespace dsvl::runtime::json
