// A deterministic stand-in for the model, for testing the server without weights
// (`dsvl serve --fake`, tests/server). It implements dsvl::Engine with a real scheduler
// thread and N slots, so streaming, cancellation, queueing and timeouts behave as with the
// real engine; only the "model" is a rule:
//
//   - tokens are bytes (id = byte + 3; 0 BOS, 1 EOS, 2 image), images cost image_tokens each;
//   - the answer echoes the last user message: "I see 1 image (png, 68 bytes). You said: ...",
//     plus a seed-dependent number when temperature > 0 (seed reproducibility is testable);
//   - "[[count N]]" in the prompt answers "1 2 3 ... N" (long outputs, stop strings);
//   - "[[fail]]" ends the request with an internal error (HTTP 500);
//   - response_format json_object / json_schema answers a JSON value (schema-conforming);
//   - images must start with a PNG/JPEG/GIF/WebP/BMP signature, else Error(kRequest);
//   - prompts longer than ctx throw Error(kLimit), like the real engine.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "dsvl/dsvl.h"

namespace dsvl::server {

struct FakeEngineOptions {
  std::string name = "dsvl-fake";
  int ctx = 4096;
  int parallel = 4;
  int max_images = 8;
  int image_tokens = 16;      // prompt tokens per image
  int token_delay_us = 1000;  // one decode step
};

class FakeEngine : public Engine {
 public:
  explicit FakeEngine(FakeEngineOptions opts);
  ~FakeEngine() override;

  const ModelInfo& info() const override { return info_; }
  bool ready() const override { return true; }
  RequestId submit(const Request& request, std::function<void(const Delta&)> on_delta,
                   std::function<void(const Result&)> on_done) override;
  void cancel(RequestId id) override;
  int count_prompt_tokens(const Request& request) override;
  std::vector<int32_t> tokenize(const std::string& text, bool add_special) const override;
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special) const override;
  Stats stats() const override;

  struct Job;  // defined in fake_engine.cpp

 private:
  void run();
  bool step_job(Job& job);  // emits one token; true when the job ended

  FakeEngineOptions opts_;
  ModelInfo info_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> active_;
  std::map<RequestId, std::shared_ptr<Job>> by_id_;
  RequestId next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dsvl::server
