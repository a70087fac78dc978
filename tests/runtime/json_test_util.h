// Test helpers for grammar-constrained JSON: a validator for the JSON Schema subset that
// runtime/json_schema.h supports (written independently of the acceptor) and a few schemas.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dsvl::test {

// "" if `v` matches `schema`, else a reason naming the path.
inline std::string schema_mismatch(const nlohmann::json& v, const nlohmann::json& s,
                                   const std::string& path = "$") {
  using nlohmann::json;
  if (s.is_boolean()) return s.get<bool>() ? "" : path + ": false schema";
  if (s.contains("const")) return v == s["const"] ? "" : path + ": not the const";
  if (s.contains("enum")) {
    for (const json& e : s["enum"])
      if (v == e) return "";
    return path + ": not in enum";
  }
  for (const char* kw : {"anyOf", "oneOf"})
    if (s.contains(kw)) {
      for (const json& alt : s[kw])
        if (schema_mismatch(v, alt, path).empty()) return "";
      return path + ": no alternative matches";
    }
  if (s.contains("allOf")) return schema_mismatch(v, s["allOf"][0], path);
  auto type_ok = [&](const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is_number_integer();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    return false;
  };
  if (s.contains("type")) {
    bool ok = false;
    if (s["type"].is_string()) ok = type_ok(s["type"]);
    for (const json& t : s["type"].is_array() ? s["type"] : json::array()) ok = ok || type_ok(t);
    if (!ok) return path + ": wrong type " + v.type_name();
  }
  if (v.is_object() && s.contains("properties")) {
    for (const auto& [k, sub] : v.items()) {
      if (!s["properties"].contains(k)) return path + ": unexpected key " + k;
      std::string m = schema_mismatch(sub, s["properties"][k], path + "." + k);
      if (!m.empty()) return m;
    }
    for (const json& r : s.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return path + ": missing " + r.get<std::string>();
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return path + ": short";
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return path + ": long";
    if (s.contains("items"))
      for (size_t i = 0; i < v.size(); ++i) {
        std::string m = schema_mismatch(v[i], s["items"], path + "[" + std::to_string(i) + "]");
        if (!m.empty()) return m;
      }
  }
  if (v.is_string()) {
    // Length in code points (UTF-8 lead bytes).
    size_t n = 0;
    for (unsigned char c : v.get<std::string>()) n += (c & 0xC0) != 0x80;
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return path + ": short";
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return path + ": long";
  }
  return "";
}

// A schema with every supported construct.
inline const char* kRichSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 12},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "ok": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "minItems": 1, "maxItems": 3},
    "color": {"enum": ["red", "green", "blue", 7, null]},
    "nested": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": ["integer", "null"]}},
               "required": ["x"]},
    "anything": {},
    "free": {"type": "object"}
  },
  "required": ["name", "age", "tags", "nested"]
})";

}  // namespace dsvl::test
