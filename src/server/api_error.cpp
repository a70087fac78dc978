#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace dsvl::server {

ApiError from_engine_error(ErrorKind kind, const std::string& message) {
  switch (kind) {
    case ErrorKind::kRequest:
      return ApiError(400, message, "invalid_request_error", "", "invalid_request");
    case ErrorKind::kLimit:
      return ApiError(400, message, "invalid_request_error", "", "limit_exceeded");
    default:
      return ApiError(500, message, "server_error", "", "internal_error");
  }
}

std::string error_body(const ApiError& e) {
  nlohmann::json j;
  j["error"] = {{"message", e.what()},
                {"type", e.type},
                {"param", e.param.empty() ? nlohmann::json() : nlohmann::json(e.param)},
                {"code", e.code.empty() ? nlohmann::json() : nlohmann::json(e.code)}};
  // Replace invalid UTF-8 (e.g. echoed from a bad request) rather than throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dsvl::server
