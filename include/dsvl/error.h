// The one exception type dsvl throws (public: callers catch it).
#pragma once

#include <stdexcept>
#include <string>

namespace dsvl {

enum class ErrorKind { kIo, kConfig, kShape, kRequest, kLimit, kInternal };

// Every error dsvl throws. kRequest / kLimit are the caller's fault (HTTP 4xx), kIo and
// kConfig concern the model folder, the rest are internal.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace dsvl
