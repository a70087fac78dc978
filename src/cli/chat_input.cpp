#include "cli/chat_input.h"

#include <unistd.h>

#include "core/error.h"

namespace dsvl::cli {
namespace {

constexpr const char* kTag = "<image_placeholder>";

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

ImageInput readable_image(const std::string& path) {
  if (path.empty()) throw RequestError("an image needs a path: /image PATH or <image:PATH>");
  if (access(path.c_str(), R_OK) != 0) throw RequestError("cannot read image " + path);
  return ImageInput{path, "", path};
}

bool starts_with_at(const std::string& s, size_t pos, const std::string& what) {
  return s.compare(pos, what.size(), what) == 0;
}

}  // namespace

ChatLine parse_chat_line(const std::string& raw) {
  const std::string line = trim(raw);
  if (line.empty()) return {ChatCommand::kEmpty, ""};
  if (line == "exit" || line == "quit" || line == "/exit" || line == "/quit")
    return {ChatCommand::kExit, ""};
  if (line == "new" || line == "/new" || line == "/clear") return {ChatCommand::kClear, ""};
  if (line == "/help" || line == "/?") return {ChatCommand::kHelp, ""};
  if (line == "/image" || line.rfind("/image ", 0) == 0)
    return {ChatCommand::kImage, trim(line.substr(6))};
  if (line[0] == '/' && line.find(' ') == std::string::npos &&
      line.find('/', 1) == std::string::npos)
    return {ChatCommand::kUnknown, line};
  return {ChatCommand::kMessage, line};
}

Message build_user_message(const std::string& text, const std::vector<std::string>& attached) {
  Message m;
  m.role = "user";
  size_t next_attached = 0;
  for (size_t i = 0; i < text.size();) {
    if (starts_with_at(text, i, "<image:")) {
      const size_t end = text.find('>', i);
      if (end == std::string::npos) throw RequestError("<image:PATH> is missing its '>'");
      m.images.push_back(readable_image(trim(text.substr(i + 7, end - i - 7))));
      m.content += kTag;
      i = end + 1;
    } else if (starts_with_at(text, i, "<image>") || starts_with_at(text, i, kTag)) {
      if (next_attached == attached.size())
        throw RequestError("the message has more <image> markers than attached images (" +
                           std::to_string(attached.size()) + ")");
      m.images.push_back(readable_image(attached[next_attached++]));
      m.content += kTag;
      i += starts_with_at(text, i, "<image>") ? 7 : std::string(kTag).size();
    } else {
      m.content += text[i++];
    }
  }
  if (next_attached == 0 && !attached.empty()) {
    std::vector<ImageInput> front;
    std::string tags;
    for (const std::string& path : attached) {
      front.push_back(readable_image(path));
      tags += kTag;
    }
    m.images.insert(m.images.begin(), front.begin(), front.end());
    m.content = tags + m.content;
  } else if (next_attached != attached.size()) {
    throw RequestError("the message has " + std::to_string(next_attached) +
                       " <image> marker(s) but " + std::to_string(attached.size()) +
                       " image(s) are attached");
  }
  return m;
}

}  // namespace dsvl::cli
