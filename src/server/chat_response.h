// Chat completion responses in OpenAI's JSON: the whole `chat.completion` object and the
// `chat.completion.chunk` server-sent events of a stream.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dsvl/dsvl.h"
#include "server/api_error.h"

namespace dsvl::server {

struct ResponseMeta {
  std::string id;   // "chatcmpl-<hex>"
  int64_t created;  // unix seconds
  std::string model;
};

ResponseMeta new_response_meta(const std::string& model);

// JSON text without throwing on invalid UTF-8 (replaced by U+FFFD).
std::string dump_json(const nlohmann::json& j);

nlohmann::json usage_json(const Usage& u);
// One entry of choices[].logprobs.content (token, logprob, bytes, top_logprobs).
nlohmann::json logprob_json(const std::string& token, float logprob,
                            const std::vector<TokenLogprob>& top);
// OpenAI's finish_reason for an engine's one.
std::string finish_reason(const std::string& engine_reason);

// The non-streamed answer (`result.finish_reason` is not "error").
std::string completion_body(const ResponseMeta& meta, const Result& result, bool logprobs);

// One SSE event: "data: <payload>\n\n".
std::string sse_event(const std::string& payload);

// Formats the events of one streamed completion, in order. Tokens whose text the engine
// holds back (an incomplete UTF-8 sequence or a possible stop string) keep their logprobs
// until text comes, so every content chunk carries its own tokens.
class StreamFormatter {
 public:
  StreamFormatter(ResponseMeta meta, bool logprobs, bool include_usage)
      : meta_(std::move(meta)), logprobs_(logprobs), include_usage_(include_usage) {}

  std::string first();                       // the role chunk
  std::string delta(const Delta& d);         // "" when nothing to send yet
  std::string finish(const Result& result);  // finish chunk, usage chunk, [DONE]
  std::string error(const ApiError& e);      // an error event, then [DONE]

 private:
  nlohmann::json chunk(nlohmann::json delta, nlohmann::json finish, nlohmann::json logprobs);

  ResponseMeta meta_;
  bool logprobs_, include_usage_;
  nlohmann::json pending_logprobs_ = nlohmann::json::array();
};

}  // namespace dsvl::server
