// Typed access to tokenizer.json values with errors that name the component and key.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace dsvl::tokenizer {

[[noreturn]] inline void json_fail(std::string_view what, std::string_view key,
                                   std::string_view problem) {
  throw ConfigError("" + std::string(what) + ": key \"" + std::string(key) +
                    "\" " + std::string(problem));
}

// The "type" field of a component object.
inline std::string json_type(const nlohmann::json& j, std::string_view what) {
  if (!j.is_object()) json_fail(what, "type", "missing (the component is not an object)");
  auto it = j.find("type");
  if (it == j.end() || !it->is_string()) json_fail(what, "type", "missing or not a string");
  return it->get<std::string>();
}

inline const nlohmann::json& json_array(const nlohmann::json& j, std::string_view key,
                                        std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) json_fail(what, key, "missing or not an array");
  return *it;
}

inline bool json_bool(const nlohmann::json& j, std::string_view key, bool def,
                      std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) json_fail(what, key, "is not a boolean");
  return it->get<bool>();
}

inline std::string json_string(const nlohmann::json& j, std::string_view key,
                               std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) json_fail(what, key, "missing or not a string");
  return it->get<std::string>();
}

}  // namespace dsvl::tokenizer
