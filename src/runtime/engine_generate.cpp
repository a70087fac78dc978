// Engine::generate: the blocking wrapper around submit() shared by every Engine.
#include <condition_variable>
#include <mutex>

#include "dsvl/dsvl.h"

namespace dsvl {

Result Engine::generate(const Request& request, std::function<void(const Delta&)> on_delta) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Result out;
  submit(request, std::move(on_delta), [&](const Result& r) {
    std::lock_guard<std::mutex> lk(mu);
    out = r;
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lk(mu);
  cv.wait(lk, [&] { return done; });
  return out;
}

}  // namespace dsvl
