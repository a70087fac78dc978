// How deeply a JSON text nests, measured before parsing. nlohmann::json parses deep input
// fine, but dumping or walking the value recurses once per level, so a hostile file of a few
// hundred kilobytes ("[[[[...") would overflow the stack in an error message. Every loader of
// untrusted JSON refuses input nested deeper than kMaxJsonDepth first.
#pragma once

#include <cstddef>
#include <string_view>

namespace dsvl {

// Real files nest at most ~6 levels (tokenizer.json); 256 leaves room for anything sane.
inline constexpr int kMaxJsonDepth = 256;

// The deepest [ / { nesting in `text`, brackets inside strings not counted. Malformed text is
// measured as far as it goes (the parser reports it afterwards).
int json_depth(std::string_view text);

}  // namespace dsvl
