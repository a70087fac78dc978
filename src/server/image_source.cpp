#include "server/image_source.h"

#include <httplib.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "server/api_error.h"

namespace dsvl::server {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::array<int8_t, 256> decode_table() {
  std::array<int8_t, 256> t;
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "http://host:port/path" → scheme+authority ("http://host:port"), host and path.
struct UrlParts {
  std::string origin, host, path;
};
std::optional<UrlParts> split_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  auto scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  auto rest = url.substr(scheme_end + 3);
  auto slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!path.empty() && path[0] != '/') path = "/" + path;
  // Userinfo ("user@host") is refused: it only serves to disguise the real host.
  if (authority.empty() || authority.find('@') != std::string::npos) return std::nullopt;
  std::string host = authority;
  if (host[0] == '[') {  // [::1]:8080
    auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (auto hash = path.find('#'); hash != std::string::npos) path.resize(hash);
  return UrlParts{scheme + "://" + authority, lower(host), path};
}

}  // namespace

std::optional<std::string> base64_decode(const std::string& text) {
  static const auto table = decode_table();
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0, n_chars = 0, n_pad = 0;
  for (unsigned char c : text) {
    if (std::isspace(c)) continue;
    if (c == '=') {
      ++n_pad;
      continue;
    }
    if (n_pad > 0 || table[c] < 0) return std::nullopt;  // data after padding, bad char
    acc = (acc << 6) | static_cast<uint32_t>(table[c]);
    bits += 6;
    ++n_chars;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (n_chars % 4 == 1 || n_pad > 2) return std::nullopt;
  if (n_pad > 0 && (n_chars + n_pad) % 4 != 0) return std::nullopt;
  return out;
}

std::string base64_encode(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= uint8_t(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

DataUrl parse_data_url(const std::string& url, const std::string& param) {
  auto comma = url.find(',');
  if (url.rfind("data:", 0) != 0 || comma == std::string::npos)
    throw invalid_request("image data URL is malformed (expected data:image/...;base64,...)", param,
                          "invalid_image_url");
  std::string header = lower(url.substr(5, comma - 5));
  auto semi = header.find(';');
  DataUrl out;
  out.mime = header.substr(0, semi);
  if (out.mime.rfind("image/", 0) != 0)
    throw invalid_request("data URL has media type \"" + out.mime + "\", expected image/*", param,
                          "invalid_image_url");
  if (header.find(";base64") == std::string::npos)
    throw invalid_request("image data URL must be base64-encoded (;base64,)", param,
                          "invalid_image_url");
  auto bytes = base64_decode(url.substr(comma + 1));
  if (!bytes) throw invalid_request("image data URL: invalid base64", param, "invalid_image_url");
  if (bytes->empty()) throw invalid_request("image data URL is empty", param, "invalid_image_url");
  out.bytes = std::move(*bytes);
  return out;
}

std::string load_image_url(const std::string& url, const ImageFetchPolicy& policy,
                           const std::string& param) {
  if (url.rfind("data:", 0) == 0) return parse_data_url(url, param).bytes;
  auto parts = split_url(url);
  if (!parts)
    throw invalid_request("image URL must be a data: URL or http(s)", param, "invalid_image_url");
  const auto& allowed = policy.allowed_hosts;
  if (std::find(allowed.begin(), allowed.end(), parts->host) == allowed.end())
    throw invalid_request("fetching images from host \"" + parts->host +
                              "\" is not allowed (send a data: URL, or start the server "
                              "with --allowed-image-hosts)",
                          param, "image_host_not_allowed");
  httplib::Client cli(parts->origin);
  cli.set_connection_timeout(policy.timeout_s, 0);
  cli.set_read_timeout(policy.timeout_s, 0);
  cli.set_follow_location(false);  // a redirect could point anywhere
  std::string body;
  bool too_big = false;
  auto res = cli.Get(parts->path, [&](const char* data, size_t len) {
    if (body.size() + len > policy.max_bytes) {
      too_big = true;
      return false;
    }
    body.append(data, len);
    return true;
  });
  if (too_big)
    throw invalid_request(
        "image at " + url + " is larger than " + std::to_string(policy.max_bytes) + " bytes", param,
        "image_too_large");
  if (!res)
    throw invalid_request("could not fetch image " + url + ": " + httplib::to_string(res.error()),
                          param, "image_fetch_failed");
  if (res->status != 200)
    throw invalid_request("fetching image " + url + " returned HTTP " + std::to_string(res->status),
                          param, "image_fetch_failed");
  if (body.empty()) throw invalid_request("image at " + url + " is empty", param, "invalid_image");
  return body;
}

}  // namespace dsvl::server
