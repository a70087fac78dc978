#include "cli/command.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "core/error.h"

namespace dsvl::cli {

std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> m;
  return m;
}

Args::Args(const std::vector<std::string>& argv, const std::vector<std::string>& value_flags,
           const std::vector<std::string>& switch_flags,
           const std::map<std::string, std::string>& aliases) {
  auto is_in = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || a[0] != '-' ||
        (a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      positional_.push_back(a);
      continue;
    }
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (auto it = aliases.find(a); it != aliases.end()) a = it->second;
    if (is_in(switch_flags, a)) {
      if (inline_value) throw RequestError("flag " + a + " takes no value");
      values_.emplace(a, "");
    } else if (is_in(value_flags, a)) {
      if (inline_value) {
        values_.emplace(a, *inline_value);
      } else {
        if (i + 1 >= argv.size()) throw RequestError("flag " + a + " needs a value");
        values_.emplace(a, argv[++i]);
      }
    } else {
      throw RequestError("unknown flag " + a);
    }
  }
}

bool Args::has(const std::string& f) const { return values_.count(f) > 0; }

std::optional<std::string> Args::get(const std::string& f) const {
  auto r = values_.equal_range(f);
  if (r.first == r.second) return std::nullopt;
  return std::prev(r.second)->second;  // last one wins
}

std::string Args::get_or(const std::string& f, const std::string& def) const {
  auto v = get(f);
  return v ? *v : def;
}

std::string Args::require(const std::string& f) const {
  auto v = get(f);
  if (!v) throw RequestError("missing required flag " + f);
  return *v;
}

std::vector<std::string> Args::get_all(const std::string& f) const {
  std::vector<std::string> out;
  auto r = values_.equal_range(f);
  for (auto it = r.first; it != r.second; ++it) out.push_back(it->second);
  return out;
}

long long Args::get_int(const std::string& f, long long def) const {
  auto v = get(f);
  if (!v) return def;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE)
    throw RequestError("flag " + f + ": \"" + *v + "\" is not an integer");
  return x;
}

double Args::get_double(const std::string& f, double def) const {
  auto v = get(f);
  if (!v) return def;
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno == ERANGE || x != x)
    throw RequestError("flag " + f + ": \"" + *v + "\" is not a number");
  return x;
}

}  // namespace dsvl::cli
