#include "core/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dsvl {
namespace {

thread_local bool t_in_worker = false;

// Workers sleep on a condition variable between jobs; a job is one callable invoked as
// fn(index, count) by every participant (the caller is participant 0).
class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return n_; }

  void resize(int n) {
    stop();
    n_ = std::max(1, n);
    quit_ = false;
    // New workers must not mistake the last finished job for a new one: they start from the
    // current generation (job_ is null by now).
    const uint64_t gen = generation_;
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i, gen] { loop(i, gen); });
  }

  void run(FunctionRef<void(int, int)> fn) {
    if (n_ == 1 || t_in_worker) {
      fn(0, 1);
      return;
    }
    std::lock_guard<std::mutex> serial(run_mu_);  // one job at a time
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      pending_ = n_ - 1;
      ++generation_;
    }
    cv_.notify_all();
    t_in_worker = true;
    fn(0, n_);
    t_in_worker = false;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int index, uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      const FunctionRef<void(int, int)>* job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(index, n_);
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int n_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const FunctionRef<void(int, int)>* job_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
};

Pool& pool() {
  static Pool p(int(std::max(1u, std::thread::hardware_concurrency())));
  return p;
}

}  // namespace

void set_num_threads(int n) { pool().resize(n); }
int num_threads() { return pool().size(); }

void parallel_run(FunctionRef<void(int, int)> fn) { pool().run(fn); }

void parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn, int64_t grain) {
  if (n <= 0) return;
  const int nt = num_threads();
  if (nt == 1 || n <= grain || t_in_worker) {
    fn(0, n);
    return;
  }
  pool().run([&](int i, int count) {
    const int64_t chunk = (n + count - 1) / count;
    const int64_t b = std::min<int64_t>(n, int64_t(i) * chunk);
    const int64_t e = std::min<int64_t>(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace dsvl
