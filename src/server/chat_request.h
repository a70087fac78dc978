// POST /v1/chat/completions body → dsvl::Request, with OpenAI's validation rules. Every
// malformed field becomes an ApiError(400) that names the field (`param`), never a crash.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "dsvl/dsvl.h"
#include "server/image_source.h"

namespace dsvl::server {

struct ChatLimits {
  int max_images = 8;            // per request
  int default_max_tokens = 512;  // when the request names none
  int max_tokens_cap = 0;        // > 0: larger requests are refused
};

struct ChatRequest {
  Request request;
  std::string model;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool seed_given = false;
};

// Turns an image_url.url into encoded bytes (data URL decoding, allow-listed fetching).
using ImageLoader = std::function<std::string(const std::string& url, const std::string& param)>;

// Parses and validates the JSON body. `load_image` is called once per image part.
ChatRequest parse_chat_request(const nlohmann::json& body, const ChatLimits& limits,
                               const ImageLoader& load_image);

// Parses raw text as JSON, throwing ApiError(400) with the parser's position on failure.
nlohmann::json parse_json_body(const std::string& text);

}  // namespace dsvl::server
