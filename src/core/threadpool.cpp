#include "core/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dsvl {
namespace {

thread_local bool t_in_worker = false;

// Spins while waiting for up to about this long before sleeping. Decode posts a job every
// 0.1-1 ms; a worker woken from a futex sleep starts each one late (tens of µs: an AMX GEMV
// over a 23 MB matrix read 25.9 GB/s with sleeping workers against 27.2-28.6 with spinning
// ones, measured on this machine), and the caller then waits for it at the end.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls ready() for up to kSpin; true as soon as it holds. Between short bursts of polling it
// yields the core, so a thread of another process waiting for it runs instead (with more
// threads than cores, plain spinning doubled the test suite's time under `ctest -j2`).
template <typename Ready>
bool spin_until(Ready&& ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) return ready();
    std::this_thread::yield();
  }
}

// Workers wait for a job spinning a little, then sleeping on a condition variable; a job is
// one callable invoked as fn(index, count) by every participant (the caller is participant 0).
// generation_ and pending_ are atomics so the spinning side reads them without the mutex; the
// mutex orders the sleeping side (a waiter re-checks under it, so no wake-up is lost).
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
    const uint64_t gen = generation_.load();
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
      pending_.store(n_ - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);  // publishes job_ and pending_
    }
    cv_.notify_all();
    t_in_worker = true;
    fn(0, n_);
    t_in_worker = false;
    const auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, done);
    }
    job_ = nullptr;
  }

 private:
  void loop(int index, uint64_t seen) {
    t_in_worker = true;
    const auto posted = [&] {
      return quit_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    for (;;) {
      if (!spin_until(posted)) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, posted);
      }
      if (quit_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      (*job_)(index, n_);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(mu_);  // the caller may be between its check and wait
        done_cv_.notify_one();
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
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
};

Pool& pool() {
  static Pool p(int(std::max(1u, std::thread::hardware_concurrency())));
  return p;
}

}  // namespace

void set_num_threads(int n) { pool().resize(n); }
int num_threads() { return pool().size(); }

void parallel_run(FunctionRef<void(int, int)> fn) { pool().run(fn); }

void parallel_tasks(int64_t n, FunctionRef<void(int, int64_t)> fn) {
  if (n <= 0) return;
  std::atomic<int64_t> next{0};
  pool().run([&](int thread, int) {
    for (int64_t t = next.fetch_add(1); t < n; t = next.fetch_add(1)) fn(thread, t);
  });
}

bool in_parallel_region() { return t_in_worker; }

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
