// Progress on a terminal: a spinner with the elapsed time, drawn on stderr only when stderr is
// a terminal (pipes and log files never see control sequences). Used while the model loads
// and while images are encoded and the prompt is prefilled, before the first answer byte.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace dsvl::cli {

bool stderr_is_tty();

class Spinner {
 public:
  // Starts drawing "⠋ label… 1.2 s" at the cursor, redrawn every 100 ms. Disabled: nothing.
  explicit Spinner(std::string label, bool enabled = stderr_is_tty());
  ~Spinner();
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

  // Erases the spinner and leaves the cursor where it was when the spinner started, so the
  // next stdout byte lands there. Idempotent; callable from any thread (the engine's
  // streaming callback stops it before writing the first piece of the answer).
  void stop();

 private:
  void loop();

  std::string label_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool drawn_ = false;
  std::thread thread_;
};

}  // namespace dsvl::cli
