// Where a request's images come from: `data:` URLs (base64) and, only for hosts on the
// allow-list, http(s) URLs. Anything else is refused, so that a request cannot make the
// server reach into its own network (server-side request forgery).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace dsvl::server {

// Strict base64 (standard alphabet; '=' padding optional; ASCII whitespace skipped).
// Returns nullopt on any other character or a truncated quantum.
std::optional<std::string> base64_decode(const std::string& text);
std::string base64_encode(const std::string& bytes);

struct DataUrl {
  std::string mime;   // "image/png"
  std::string bytes;  // decoded
};
// Parses "data:<mime>;base64,<payload>". Throws ApiError(400) naming `param` when malformed.
DataUrl parse_data_url(const std::string& url, const std::string& param);

struct ImageFetchPolicy {
  std::vector<std::string> allowed_hosts;  // exact host names; empty: no fetching at all
  size_t max_bytes = 32u << 20;
  int timeout_s = 10;
};

// Resolves an image_url.url to encoded image bytes: a data URL, or an http(s) URL whose host
// is allowed (fetched once, redirects not followed). Throws ApiError(400) naming `param`.
std::string load_image_url(const std::string& url, const ImageFetchPolicy& policy,
                           const std::string& param);

}  // namespace dsvl::server
