#include "common/shared.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace fs = std::filesystem;

namespace dsvl::test {
namespace {

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::vector<std::string>& temp_dirs() {
  static std::vector<std::string> dirs;
  static bool registered = false;
  if (!registered) {
    registered = true;
    std::atexit([] {
      for (auto& d : temp_dirs()) {
        std::error_code ec;
        fs::remove_all(d, ec);
      }
    });
  }
  return dirs;
}

}  // namespace

std::string shared_dir() {
  fs::path p;
  if (const char* env = std::getenv("DSVL_SHARED")) {
    p = env;
  } else {
    p = fs::path(DSVL_SOURCE_DIR) / ".." / "shared";
  }
  std::error_code ec;
  if (fs::is_directory(p, ec)) return fs::canonical(p).string();
  if (in_ci()) ADD_FAILURE() << "CI=true but the shared data folder " << p << " is missing";
  return "";
}

std::string shared_path(const std::string& rel) {
  std::string d = shared_dir();
  if (d.empty()) return "";
  fs::path p = fs::path(d) / rel;
  std::error_code ec;
  if (fs::exists(p, ec)) return p.string();
  if (in_ci()) ADD_FAILURE() << "CI=true but " << p << " is missing";
  return "";
}

std::string dsvl_binary() { return DSVL_BINARY; }

std::string temp_dir(const std::string& tag) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  std::string tmpl = (fs::temp_directory_path() / ("dsvl-" + tag + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  temp_dirs().push_back(buf.data());
  return buf.data();
}

int run_command(const std::string& cmd, std::string* out) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    if (out) out->append(buf.data(), n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace dsvl::test
