#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace dsvl::cli {
namespace {

// The spinner is drawn between "save cursor" and "restore cursor", so the cursor stays where
// the answer will be written (after "Assistant: " in the chat), and erased with "clear to end
// of line" from there.
constexpr const char* kSave = "\0337";
constexpr const char* kRestore = "\0338";
constexpr const char* kClear = "\033[K";
constexpr const char* kFrames[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

}  // namespace

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

Spinner::Spinner(std::string label, bool enabled)
    : label_(std::move(label)), start_(std::chrono::steady_clock::now()) {
  if (enabled) thread_ = std::thread([this] { loop(); });
}

Spinner::~Spinner() { stop(); }

void Spinner::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Spinner::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  // Wait a little first: a step that finishes quickly leaves no flicker behind.
  cv_.wait_for(lk, std::chrono::milliseconds(150), [&] { return stopping_; });
  for (size_t frame = 0; !stopping_; ++frame) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "%s%s %s… %.1f s%s", kSave, kFrames[frame % 10], label_.c_str(), secs,
                 kRestore);
    std::fflush(stderr);
    drawn_ = true;
    cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stopping_; });
  }
  if (drawn_) std::fprintf(stderr, "%s", kClear), std::fflush(stderr);
}

}  // namespace dsvl::cli
