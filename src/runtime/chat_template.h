// The "deepseek" chat template of DeepSeek-VL (spec §6.2) and the processor step that turns
// each <image_placeholder> id into the 576 image-token slots (spec §6.3), as the official
// VLChatProcessor does (deepseek_vl/models/processing_vlm.py, utils/conversation.py).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dsvl::runtime {

// VLChatProcessor's fixed system prompt.
inline constexpr std::string_view kDeepSeekVlSystemPrompt =
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language.";
inline constexpr std::string_view kImagePlaceholder = "<image_placeholder>";
inline constexpr size_t kImageTokensPerImage = 576;

struct ChatMessage {
  std::string role;     // "user", "assistant" or a leading "system" (case-insensitive)
  std::string content;  // may contain one "<image_placeholder>" per image
};

// The prompt text: system + "\n\n", then per message "User: text\n\n" or
// "Assistant: text<｜end▁of▁sentence｜>"; an empty message (normally the final assistant
// turn) gives just "Assistant:". Message contents and the whole prompt are stripped of
// surrounding whitespace as the processor does. If the conversation does not end with an
// assistant message, an empty one is appended so the model answers next. Roles must
// alternate user/assistant starting with user (the template picks separators by position);
// RequestError otherwise. An empty system prompt is left out entirely; a leading "system"
// message replaces `system_prompt`.
std::string render_deepseek_prompt(const std::vector<ChatMessage>& messages,
                                   std::string_view system_prompt = kDeepSeekVlSystemPrompt);

// Replaces every `image_token_id` in `ids` by `tokens_per_image` copies of it. The number of
// placeholders must equal `n_images`; RequestError naming both counts otherwise (the
// official code has no check and fails later in a masked assignment).
std::vector<int32_t> expand_image_tokens(const std::vector<int32_t>& ids, int32_t image_token_id,
                                         size_t n_images,
                                         size_t tokens_per_image = kImageTokensPerImage);

// render_deepseek_prompt + encode with special tokens (BOS) + expand_image_tokens, with the
// placeholder id looked up by its token string (100015 for DeepSeek-VL). ConfigError if the
// tokenizer has no <image_placeholder> token while images are given.
std::vector<int32_t> encode_deepseek_chat(const tokenizer::Tokenizer& tok,
                                          const std::vector<ChatMessage>& messages,
                                          size_t n_images,
                                          std::string_view system_prompt = kDeepSeekVlSystemPrompt);

}  // namespace dsvl::runtime
