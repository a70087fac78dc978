// Stop strings over streamed text: text is released only once it can no longer be the start
// of a stop string, so a client never sees a partial stop string; on a match the text before
// it is released and generation ends (the stop string itself is not part of the output).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dsvl::runtime {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends `text`; returns the text safe to emit now and whether a stop string matched.
  std::pair<std::string, bool> push(const std::string& text);
  // End of generation without a match: everything held back, plus `tail`.
  std::string finish(const std::string& tail = "");

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace dsvl::runtime
