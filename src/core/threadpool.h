// A persistent pool of worker threads shared by every kernel. parallel_for splits [0, n)
// into contiguous chunks, one per thread, and blocks until all are done. Calls made from
// inside a worker run inline (no nested parallelism), so kernels may call each other freely.
#pragma once

#include <cstdint>
#include <functional>

namespace dsvl {

// Number of threads used by parallel_for (default: hardware concurrency). Not thread-safe
// with respect to concurrent parallel_for calls; set it once at startup.
void set_num_threads(int n);
int num_threads();

// fn(begin, end) is called on disjoint ranges covering [0, n). `grain` is the smallest
// range worth giving a thread; small n run inline on the caller.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

// fn(thread_index, n_threads): one call per thread, for kernels that partition themselves.
void parallel_run(const std::function<void(int, int)>& fn);

// True on a thread that is running a parallel_for / parallel_run body (where nested calls run
// inline); profilers use it to tell per-thread work from whole-pool work.
bool in_parallel_region();

}  // namespace dsvl
