#include "server/auth.h"

#include <cctype>
#include <fstream>

#include "dsvl/dsvl.h"

namespace dsvl::server {

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Walk the expected key's length whatever the guess, folding every difference in.
  volatile unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

std::string bearer_token(const std::string& authorization) {
  static const std::string kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return "";
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return "";
  std::string token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

std::string read_api_key_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(ErrorKind::kRequest, "--api-key-file " + path + ": cannot open");
  std::string key;
  std::getline(f, key);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  if (key.empty())
    throw Error(ErrorKind::kRequest, "--api-key-file " + path + ": empty first line");
  return key;
}

}  // namespace dsvl::server
