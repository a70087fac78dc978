#include "runtime/chat_template.h"

#include <cctype>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace dsvl::runtime {
namespace {

constexpr std::string_view kSep = "\n\n";
constexpr std::string_view kSep2 = "<｜end▁of▁sentence｜>";

// Python's str.isspace: White_Space plus the information separators U+001C..U+001F.
bool py_space(char32_t cp) {
  return tokenizer::unicode::is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F);
}

// Python's str.strip() on valid UTF-8.
std::string_view py_strip(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    size_t i = b;
    if (!py_space(tokenizer::unicode::next_code_point(s, i))) break;
    b = i;
  }
  size_t e = s.size();
  while (e > b) {
    size_t i = e - 1;
    while (i > b && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    size_t j = i;
    if (!py_space(tokenizer::unicode::next_code_point(s, j))) break;
    e = i;
  }
  return s.substr(b, e - b);
}

bool is_role(const std::string& role, std::string_view want) {
  if (role.size() != want.size()) return false;
  for (size_t i = 0; i < role.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(role[i])) != want[i]) return false;
  return true;
}

}  // namespace

std::string render_deepseek_prompt(const std::vector<ChatMessage>& messages,
                                   std::string_view system_prompt) {
  std::vector<ChatMessage> conv = messages;
  std::string system(system_prompt);
  if (!conv.empty() && is_role(conv.front().role, "system")) {
    // A leading system message replaces the default system prompt (OpenAI-style requests).
    // py_strip walks code points: check the bytes first (found by fuzz/targets/chat_template).
    if (tokenizer::unicode::valid_utf8_prefix(conv.front().content) != conv.front().content.size())
      throw RequestError("the system message is not valid UTF-8");
    system = std::string(py_strip(conv.front().content));
    conv.erase(conv.begin());
  }
  if (conv.empty() || !is_role(conv.back().role, "assistant")) conv.push_back({"assistant", ""});
  // Conversation.get_prompt (SeparatorStyle.DeepSeek).
  std::string out = system.empty() ? std::string() : system + std::string(kSep);
  for (size_t i = 0; i < conv.size(); ++i) {
    bool user_turn = i % 2 == 0;
    if (!is_role(conv[i].role, user_turn ? "user" : "assistant"))
      throw RequestError("chat message " + std::to_string(i) + " has role \"" + conv[i].role +
                         "\"; expected \"" + (user_turn ? "user" : "assistant") +
                         "\" (roles alternate, starting with user)");
    if (tokenizer::unicode::valid_utf8_prefix(conv[i].content) != conv[i].content.size())
      throw RequestError("chat message " + std::to_string(i) + " is not valid UTF-8");
    std::string_view content = py_strip(conv[i].content);
    out += user_turn ? "User" : "Assistant";
    if (content.empty()) {
      out += ":";
      continue;
    }
    out += ": ";
    out += content;
    out += user_turn ? kSep : kSep2;
  }
  return std::string(py_strip(out));
}

std::vector<int32_t> expand_image_tokens(const std::vector<int32_t>& ids, int32_t image_token_id,
                                         size_t n_images, size_t tokens_per_image) {
  size_t placeholders = 0;
  for (int32_t id : ids) placeholders += id == image_token_id;
  if (placeholders != n_images)
    throw RequestError("the prompt has " + std::to_string(placeholders) +
                       " <image_placeholder> token(s) but " + std::to_string(n_images) +
                       " image(s) were given; they must match one to one");
  std::vector<int32_t> out;
  out.reserve(ids.size() + placeholders * (tokens_per_image - 1));
  for (int32_t id : ids) {
    if (id == image_token_id)
      out.insert(out.end(), tokens_per_image, image_token_id);
    else
      out.push_back(id);
  }
  return out;
}

std::vector<int32_t> encode_deepseek_chat(const tokenizer::Tokenizer& tok,
                                          const std::vector<ChatMessage>& messages, size_t n_images,
                                          std::string_view system_prompt) {
  std::vector<int32_t> ids = tok.encode(render_deepseek_prompt(messages, system_prompt), true);
  std::optional<int32_t> image_id = tok.token_id(kImagePlaceholder);
  if (!image_id) {
    if (n_images > 0)
      throw ConfigError("tokenizer has no \"<image_placeholder>\" token, so images cannot be used");
    return ids;
  }
  return expand_image_tokens(ids, *image_id, n_images);
}

}  // namespace dsvl::runtime
