// Errors are exceptions, caught at the edge (cli/ maps them to a message and exit code,
// server/ to a JSON 4xx/5xx). Each names the file, key, expected and actual value.
#pragma once

#include <string>

#include "dsvl/error.h"

namespace dsvl {

// A file could not be read, or its bytes are malformed.
struct IoError : Error {
  explicit IoError(const std::string& w) : Error(ErrorKind::kIo, w) {}
};
// config.json & co: missing keys, bad values, contradictions.
struct ConfigError : Error {
  explicit ConfigError(const std::string& w) : Error(ErrorKind::kConfig, w) {}
};
// A tensor has the wrong shape or dtype.
struct ShapeError : Error {
  explicit ShapeError(const std::string& w) : Error(ErrorKind::kShape, w) {}
};
// A user request (prompt, flags, HTTP body) is invalid.
struct RequestError : Error {
  explicit RequestError(const std::string& w) : Error(ErrorKind::kRequest, w) {}
};
// A resource limit (pixels, images, context, tokens) would be exceeded.
struct LimitError : Error {
  explicit LimitError(const std::string& w) : Error(ErrorKind::kLimit, w) {}
};

}  // namespace dsvl
