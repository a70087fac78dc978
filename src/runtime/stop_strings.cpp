#include "runtime/stop_strings.h"

#include <algorithm>

namespace dsvl::runtime {

std::pair<std::string, bool> StopMatcher::push(const std::string& text) {
  held_ += text;
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    std::string out = held_.substr(0, first);
    held_.clear();
    return {out, true};
  }
  // Hold back the longest suffix of held_ that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_)
    for (size_t len = std::min(s.size() - 1, held_.size()); len > keep; --len)
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return {out, false};
}

std::string StopMatcher::finish(const std::string& tail) {
  auto [out, hit] = push(tail);
  if (hit) return out;
  out += held_;
  held_.clear();
  return out;
}

}  // namespace dsvl::runtime
