// The errors the HTTP layer answers with, in OpenAI's shape:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// Handlers throw ApiError; the router turns it into the JSON body and HTTP status.
#pragma once

#include <stdexcept>
#include <string>

#include "dsvl/dsvl.h"

namespace dsvl::server {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string type, std::string param = "",
           std::string code = "")
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}

  int status;
  std::string type;   // "invalid_request_error", "authentication_error", ...
  std::string param;  // the offending field, e.g. "messages[0].content[1].image_url.url"
  std::string code;   // machine-readable, e.g. "context_length_exceeded"
};

// 400 for a bad field of the request body.
inline ApiError invalid_request(const std::string& message, const std::string& param = "",
                                const std::string& code = "") {
  return ApiError(400, message, "invalid_request_error", param, code);
}

// Maps an engine error to HTTP: kRequest / kLimit are the client's fault (400), the rest is
// ours (500).
ApiError from_engine_error(ErrorKind kind, const std::string& message);

// The JSON body for an error (param / code are null when empty).
std::string error_body(const ApiError& e);

}  // namespace dsvl::server
