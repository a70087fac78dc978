#include "core/threadpool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace dsvl {
namespace {

TEST(ThreadPool, CoversRangeExactlyOnce) {
  for (int64_t n : {0, 1, 2, 7, 63, 4097}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n;
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  std::atomic<int64_t> sum{0};
  parallel_for(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(10, [&](int64_t b2, int64_t e2) { sum += e2 - b2; });
  });
  EXPECT_EQ(sum.load(), 80);
}

TEST(ThreadPool, TasksRunOnceEachOnAValidThread) {
  for (int64_t n : {0, 1, 2, 5, 100}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<bool> bad_thread{false};
    parallel_tasks(n, [&](int thread, int64_t t) {
      if (thread < 0 || thread >= num_threads()) bad_thread = true;
      hits[size_t(t)]++;
    });
    EXPECT_FALSE(bad_thread.load());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n;
  }
}

// Tasks are taken as threads free up, not dealt in a fixed share: while one thread is held by
// task 0 until every other task is done, the other thread runs them all (dealt round-robin,
// tasks 2, 4 and 6 would wait behind task 0, and the wait would time out).
TEST(ThreadPool, TasksGoToWhicheverThreadIsFree) {
  const int old = num_threads();
  set_num_threads(2);
  std::atomic<int> done{0};
  parallel_tasks(8, [&](int, int64_t t) {
    if (t != 0) {
      ++done;
      return;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (done.load() < 7 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(done.load(), 7) << "the other tasks waited for task 0's thread";
  });
  set_num_threads(old);
}

TEST(ThreadPool, ResizeKeepsWorking) {
  const int old = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  std::atomic<int> calls{0};
  parallel_run([&](int, int n) { calls += n; });
  EXPECT_EQ(calls.load(), 1);
  set_num_threads(old);
  EXPECT_EQ(num_threads(), old);
}

// Regression: workers created by a resize after jobs had run used to see the old job
// generation as new and call a null job.
TEST(ThreadPool, ResizeAfterJobsDoesNotReplayOldJob) {
  const int old = num_threads();
  std::atomic<int> calls{0};
  for (int round = 0; round < 3; ++round) {
    // The sleeps let the new workers start before the next job is posted.
    set_num_threads(3);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    parallel_run([&](int, int) { calls++; });
    set_num_threads(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    parallel_run([&](int, int) { calls++; });
  }
  EXPECT_EQ(calls.load(), 3 * (3 + 2));
  set_num_threads(old);
}

// Workers spin for a while after a job, then sleep: jobs posted back to back (caught while
// spinning), after a pause longer than the spin (the workers asleep) and with a worker still
// busy when the caller finishes its share (the caller waits, spinning then sleeping) must each
// run on every thread exactly once. A lost wake-up would hang here.
TEST(ThreadPool, JobsReachSpinningAndSleepingWorkers) {
  const int old = num_threads();
  set_num_threads(2);
  std::atomic<int> calls{0};
  for (int i = 0; i < 20000; ++i) parallel_run([&](int, int) { calls++; });
  EXPECT_EQ(calls.load(), 2 * 20000);
  calls = 0;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    parallel_run([&](int t, int) {
      if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(i % 2 ? 1 : 0));
      calls++;
    });
  }
  EXPECT_EQ(calls.load(), 2 * 20);
  set_num_threads(old);
}

}  // namespace
}  // namespace dsvl
