#include "server/chat_request.h"

#include <cmath>
#include <limits>
#include <random>

#include "core/json_depth.h"
#include "server/api_error.h"

namespace dsvl::server {
namespace {

using nlohmann::json;

// The engine's chat template marks image positions with this placeholder.
constexpr const char* kImagePlaceholder = "<image_placeholder>";

std::string type_name(const json& v) { return v.type_name(); }

double number_field(const json& body, const char* key, double lo, double hi) {
  const json& v = body.at(key);
  if (!v.is_number())
    throw invalid_request(std::string(key) + " must be a number, got " + type_name(v), key);
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw invalid_request(std::string(key) + " must be between " + json(lo).dump() + " and " +
                              json(hi).dump() + ", got " + v.dump(),
                          key);
  return x;
}

int64_t int_field(const json& body, const char* key, int64_t lo, int64_t hi) {
  const json& v = body.at(key);
  if (!v.is_number_integer() &&
      !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
        std::abs(v.get<double>()) < 9e15))
    throw invalid_request(std::string(key) + " must be an integer, got " + v.dump(), key);
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    throw invalid_request(std::string(key) + " must be at most " + std::to_string(hi), key);
  int64_t x = v.is_number_float() ? static_cast<int64_t>(v.get<double>()) : v.get<int64_t>();
  if (x < lo || x > hi)
    throw invalid_request(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi) + ", got " + std::to_string(x),
                          key);
  return x;
}

bool bool_field(const json& body, const char* key) {
  const json& v = body.at(key);
  if (!v.is_boolean()) throw invalid_request(std::string(key) + " must be a boolean", key);
  return v.get<bool>();
}

bool present(const json& body, const char* key) {
  return body.contains(key) && !body.at(key).is_null();
}

// One content part array → text with placeholders where the images go, in order.
void parse_content_parts(const json& parts, const std::string& where, const ImageLoader& load,
                         Message& msg) {
  bool last_was_text = false;
  for (size_t j = 0; j < parts.size(); ++j) {
    const json& part = parts[j];
    std::string p = where + "[" + std::to_string(j) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw invalid_request("content part must be an object with a string \"type\"", p);
    std::string type = part["type"].get<std::string>();
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string())
        throw invalid_request("text part needs a string \"text\"", p + ".text");
      // Adjacent text parts are separate paragraphs; text next to an image is joined as is,
      // as in the official "<image_placeholder>Describe..." prompts.
      if (last_was_text) msg.content += "\n";
      msg.content += part["text"].get<std::string>();
      last_was_text = true;
    } else if (type == "image_url") {
      const json* iu = part.contains("image_url") ? &part["image_url"] : nullptr;
      std::string url;
      if (iu && iu->is_string()) {
        url = iu->get<std::string>();  // some clients send the URL directly
      } else if (iu && iu->is_object() && iu->contains("url") && (*iu)["url"].is_string()) {
        url = (*iu)["url"].get<std::string>();
      } else {
        throw invalid_request("image_url part needs {\"url\": string}", p + ".image_url");
      }
      ImageInput img;
      img.bytes = load(url, p + ".image_url.url");
      img.name = p;
      msg.images.push_back(std::move(img));
      msg.content += kImagePlaceholder;
      last_was_text = false;
    } else {
      throw invalid_request(
          "unsupported content part type \"" + type + "\" (supported: text, image_url)",
          p + ".type");
    }
  }
}

Message parse_message(const json& m, size_t i, const ImageLoader& load) {
  std::string where = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) throw invalid_request("each message must be an object", where);
  if (!m.contains("role") || !m["role"].is_string())
    throw invalid_request("message needs a string \"role\"", where + ".role");
  Message msg;
  msg.role = m["role"].get<std::string>();
  if (msg.role == "developer") msg.role = "system";  // OpenAI's newer name for system
  if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
    throw invalid_request(
        "unsupported role \"" + msg.role + "\" (supported: system, developer, user, assistant)",
        where + ".role");
  const json* content = m.contains("content") ? &m["content"] : nullptr;
  if (!content || content->is_null()) {
    if (msg.role != "assistant")
      throw invalid_request("message content is required", where + ".content");
  } else if (content->is_string()) {
    msg.content = content->get<std::string>();
  } else if (content->is_array()) {
    parse_content_parts(*content, where + ".content", load, msg);
  } else {
    throw invalid_request("content must be a string or an array of parts", where + ".content");
  }
  if (!msg.images.empty() && msg.role != "user")
    throw invalid_request("images are only accepted in user messages", where + ".content");
  return msg;
}

void parse_stop(const json& stop, SamplingParams& s) {
  auto add = [&](const json& v, const std::string& p) {
    if (v.is_string()) {
      if (v.get<std::string>().empty()) throw invalid_request("stop strings must not be empty", p);
      s.stop.push_back(v.get<std::string>());
    } else if (v.is_number_integer() && v.get<int64_t>() >= 0 &&
               v.get<int64_t>() <= std::numeric_limits<int32_t>::max()) {
      s.stop_ids.push_back(static_cast<int32_t>(v.get<int64_t>()));  // a token id
    } else {
      throw invalid_request("stop entries must be strings or token ids", p);
    }
  };
  if (stop.is_array()) {
    if (stop.size() > 16) throw invalid_request("at most 16 stop sequences", "stop");
    for (size_t i = 0; i < stop.size(); ++i) add(stop[i], "stop[" + std::to_string(i) + "]");
  } else {
    add(stop, "stop");
  }
}

void parse_response_format(const json& rf, SamplingParams& s) {
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
    throw invalid_request("response_format must be {\"type\": ...}", "response_format");
  std::string type = rf["type"].get<std::string>();
  if (type == "text") return;
  if (type == "json_object") {
    s.response_format = "json_object";
  } else if (type == "json_schema") {
    const json* js = rf.contains("json_schema") ? &rf["json_schema"] : nullptr;
    if (!js || !js->is_object() || !js->contains("schema") || !(*js)["schema"].is_object())
      throw invalid_request("json_schema needs {\"name\", \"schema\": {...}}",
                            "response_format.json_schema");
    s.response_format = "json_schema";
    s.json_schema = (*js)["schema"].dump();
  } else {
    throw invalid_request("response_format.type must be text, json_object or json_schema",
                          "response_format.type");
  }
}

void parse_sampling(const json& body, const ChatLimits& limits, ChatRequest& out) {
  SamplingParams& s = out.request.sampling;
  if (present(body, "temperature")) s.temperature = float(number_field(body, "temperature", 0, 2));
  if (present(body, "top_p")) s.top_p = float(number_field(body, "top_p", 0, 1));
  if (present(body, "top_k")) s.top_k = int(int_field(body, "top_k", 0, 1 << 20));
  if (present(body, "min_p")) s.min_p = float(number_field(body, "min_p", 0, 1));
  if (present(body, "presence_penalty"))
    s.presence_penalty = float(number_field(body, "presence_penalty", -2, 2));
  if (present(body, "frequency_penalty"))
    s.frequency_penalty = float(number_field(body, "frequency_penalty", -2, 2));
  if (present(body, "repetition_penalty"))  // not OpenAI's, but llama.cpp/vLLM clients send it
    s.repetition_penalty = float(number_field(body, "repetition_penalty", 0.01, 10));
  if (present(body, "seed")) {
    // OpenAI takes any 64-bit integer; negative ones wrap (the bits are the seed).
    s.seed = static_cast<uint64_t>(int_field(body, "seed", std::numeric_limits<int64_t>::min(),
                                             std::numeric_limits<int64_t>::max()));
    out.seed_given = true;
  } else {
    s.seed = std::random_device{}();  // no seed: a different sample each time, as OpenAI
  }
  s.max_tokens = limits.default_max_tokens;
  int64_t cap = limits.max_tokens_cap > 0 ? limits.max_tokens_cap : (1 << 30);
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (present(body, key)) s.max_tokens = int(int_field(body, key, 1, cap));
  if (present(body, "logprobs")) s.logprobs = bool_field(body, "logprobs");
  if (present(body, "top_logprobs")) {
    s.top_logprobs = int(int_field(body, "top_logprobs", 0, 20));
    if (!s.logprobs)
      throw invalid_request("top_logprobs requires logprobs to be true", "top_logprobs");
  }
  if (present(body, "stop")) parse_stop(body["stop"], s);
  if (present(body, "stop_token_ids")) {  // vLLM's name for token-id stops
    if (!body["stop_token_ids"].is_array())
      throw invalid_request("stop_token_ids must be an array of integers", "stop_token_ids");
    json ids = body["stop_token_ids"];
    for (size_t i = 0; i < ids.size(); ++i)
      if (!ids[i].is_number_integer())
        throw invalid_request("stop_token_ids must be integers", "stop_token_ids");
    parse_stop(ids, s);
  }
  if (present(body, "response_format")) parse_response_format(body["response_format"], s);
}

}  // namespace

nlohmann::json parse_json_body(const std::string& text) {
  // Deep nesting is refused up front: dumping or walking such a value recurses per level.
  constexpr int kMaxDepth = 64;
  if (json_depth(text) > kMaxDepth)
    throw ApiError(400, "request body nests deeper than " + std::to_string(kMaxDepth) + " levels",
                   "invalid_request_error", "", "invalid_json");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw ApiError(400, std::string("request body is not valid JSON: ") + e.what(),
                   "invalid_request_error", "", "invalid_json");
  }
}

ChatRequest parse_chat_request(const json& body, const ChatLimits& limits,
                               const ImageLoader& load_image) {
  if (!body.is_object()) throw invalid_request("request body must be a JSON object");
  ChatRequest out;
  if (present(body, "model")) {
    if (!body["model"].is_string()) throw invalid_request("model must be a string", "model");
    out.model = body["model"].get<std::string>();
  }
  if (present(body, "n") && int_field(body, "n", 1, 1 << 20) != 1)
    throw invalid_request("only n=1 is supported", "n", "unsupported_value");
  if (present(body, "stream")) out.stream = bool_field(body, "stream");
  if (present(body, "stream_options")) {
    const json& so = body["stream_options"];
    if (!so.is_object())
      throw invalid_request("stream_options must be an object", "stream_options");
    if (so.contains("include_usage") && !so["include_usage"].is_null())
      out.include_usage = bool_field(so, "include_usage");
  }
  parse_sampling(body, limits, out);

  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
    throw invalid_request("messages must be a non-empty array", "messages");
  const json& messages = body["messages"];
  int n_images = 0;
  // Count images before loading any, so an over-limit request costs no fetch or decode.
  for (const auto& m : messages)
    if (m.is_object() && m.contains("content") && m["content"].is_array())
      for (const auto& part : m["content"])
        if (part.is_object() && part.value("type", json()) == "image_url") ++n_images;
  if (n_images > limits.max_images)
    throw invalid_request("too many images: " + std::to_string(n_images) + " (at most " +
                              std::to_string(limits.max_images) + " per request)",
                          "messages", "too_many_images");
  for (size_t i = 0; i < messages.size(); ++i)
    out.request.messages.push_back(parse_message(messages[i], i, load_image));
  return out;
}

}  // namespace dsvl::server
