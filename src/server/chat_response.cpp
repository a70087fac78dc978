#include "server/chat_response.h"

#include <chrono>
#include <random>

namespace dsvl::server {

using nlohmann::json;

ResponseMeta new_response_meta(const std::string& model) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(rng()));
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return {std::string("chatcmpl-") + hex,
          std::chrono::duration_cast<std::chrono::seconds>(now).count(), model};
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details",
           {{"cached_tokens", u.cached_prompt_tokens}, {"image_tokens", u.image_tokens}}}};
}

static json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

json logprob_json(const std::string& token, float logprob, const std::vector<TokenLogprob>& top) {
  json alts = json::array();
  for (const auto& t : top)
    alts.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}});
  return {
      {"token", token}, {"logprob", logprob}, {"bytes", bytes_of(token)}, {"top_logprobs", alts}};
}

std::string finish_reason(const std::string& r) {
  // The engine also says "cancelled" (client gone, timeout); OpenAI has no such reason and
  // such a response only reaches a client at shutdown, so it reads as a plain stop.
  return r == "length" ? "length" : "stop";
}

std::string completion_body(const ResponseMeta& meta, const Result& result, bool logprobs) {
  json lp = nullptr;
  if (logprobs) {
    json content = json::array();
    for (const auto& t : result.tokens) content.push_back(logprob_json(t.text, t.logprob, t.top));
    lp = {{"content", content}, {"refusal", nullptr}};
  }
  json body = {
      {"id", meta.id},
      {"object", "chat.completion"},
      {"created", meta.created},
      {"model", meta.model},
      {"system_fingerprint", nullptr},
      {"choices",
       json::array(
           {{{"index", 0},
             {"message", {{"role", "assistant"}, {"content", result.text}, {"refusal", nullptr}}},
             {"logprobs", lp},
             {"finish_reason", finish_reason(result.finish_reason)}}})},
      {"usage", usage_json(result.usage)}};
  return dump_json(body);
}

std::string sse_event(const std::string& payload) { return "data: " + payload + "\n\n"; }

json StreamFormatter::chunk(json delta, json finish, json logprobs) {
  json c = {{"id", meta_.id},
            {"object", "chat.completion.chunk"},
            {"created", meta_.created},
            {"model", meta_.model},
            {"system_fingerprint", nullptr},
            {"choices", json::array({{{"index", 0},
                                      {"delta", std::move(delta)},
                                      {"logprobs", std::move(logprobs)},
                                      {"finish_reason", std::move(finish)}}})}};
  if (include_usage_) c["usage"] = nullptr;  // as OpenAI: null on all but the last chunk
  return c;
}

std::string StreamFormatter::first() {
  return sse_event(dump_json(chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr)));
}

std::string StreamFormatter::delta(const Delta& d) {
  if (logprobs_) pending_logprobs_.push_back(logprob_json(d.text, d.logprob, d.top));
  if (d.text.empty()) return "";
  json lp = nullptr;
  if (logprobs_) {
    lp = {{"content", std::move(pending_logprobs_)}, {"refusal", nullptr}};
    pending_logprobs_ = json::array();
  }
  return sse_event(dump_json(chunk({{"content", d.text}}, nullptr, std::move(lp))));
}

std::string StreamFormatter::finish(const Result& result) {
  json lp = nullptr;
  if (logprobs_ && !pending_logprobs_.empty())
    lp = {{"content", std::move(pending_logprobs_)}, {"refusal", nullptr}};
  std::string out = sse_event(
      dump_json(chunk(json::object(), finish_reason(result.finish_reason), std::move(lp))));
  if (include_usage_) {
    json u = chunk(json::object(), nullptr, nullptr);
    u["choices"] = json::array();
    u["usage"] = usage_json(result.usage);
    out += sse_event(dump_json(u));
  }
  return out + sse_event("[DONE]");
}

std::string StreamFormatter::error(const ApiError& e) {
  return sse_event(error_body(e)) + sse_event("[DONE]");
}

}  // namespace dsvl::server
