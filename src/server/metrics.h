// Counters and histograms for GET /metrics, rendered in the Prometheus text format (0.0.4).
// All methods are thread-safe (one mutex: updates are a few per request, not per token).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/dsvl.h"

namespace dsvl::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // Every HTTP response, by route pattern (not raw path: bounded label values) and status.
  void count_request(const std::string& route, int status);
  // A finished generation: usage and timings as the client saw them.
  void count_completion(const Usage& usage, double latency_s, double ttft_s, int n_tokens,
                        double decode_s);
  void set_active(int active) { active_ = active; }

  // The whole exposition. `stats` come from the engine (nullptr while loading).
  std::string render(const Engine::Stats* stats, bool ready) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, image_tokens_ = 0, cached_tokens_ = 0;
  uint64_t completions_ = 0;
  Histogram latency_, ttft_, per_token_;
  std::atomic<int> active_{0};
};

// Resident set size of this process in bytes (0 where /proc is unavailable).
int64_t resident_bytes();

}  // namespace dsvl::server
