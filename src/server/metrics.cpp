#include "server/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace dsvl::server {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, double v) {
  out += name + " " + num(v) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + num(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : latency_({0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}),
      ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      per_token_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  ++requests_[{route, status}];
}

void Metrics::count_completion(const Usage& u, double latency_s, double ttft_s, int n_tokens,
                               double decode_s) {
  std::lock_guard<std::mutex> lk(mu_);
  ++completions_;
  prompt_tokens_ += u.prompt_tokens;
  completion_tokens_ += u.completion_tokens;
  image_tokens_ += u.image_tokens;
  cached_tokens_ += u.cached_prompt_tokens;
  latency_.observe(latency_s);
  if (ttft_s >= 0) ttft_.observe(ttft_s);
  if (n_tokens > 1) per_token_.observe(decode_s / (n_tokens - 1));
}

std::string Metrics::render(const Engine::Stats* stats, bool ready) const {
  std::string out;
  std::lock_guard<std::mutex> lk(mu_);
  header(out, "dsvl_http_requests_total", "counter", "HTTP responses by route and status.");
  for (const auto& [key, n] : requests_)
    out += "dsvl_http_requests_total{route=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  const std::pair<const char*, uint64_t> counters[] = {
      {"dsvl_completions_total", completions_},
      {"dsvl_prompt_tokens_total", prompt_tokens_},
      {"dsvl_completion_tokens_total", completion_tokens_},
      {"dsvl_image_tokens_total", image_tokens_},
      {"dsvl_cached_prompt_tokens_total", cached_tokens_}};
  for (const auto& [name, v] : counters) {
    header(out, name, "counter", "Chat completions and their token counts.");
    sample(out, name, double(v));
  }
  header(out, "dsvl_request_duration_seconds", "histogram", "Chat completion latency.");
  latency_.render("dsvl_request_duration_seconds", out);
  header(out, "dsvl_time_to_first_token_seconds", "histogram", "Time to the first token.");
  ttft_.render("dsvl_time_to_first_token_seconds", out);
  header(out, "dsvl_time_per_output_token_seconds", "histogram", "Decode time per token.");
  per_token_.render("dsvl_time_per_output_token_seconds", out);
  header(out, "dsvl_requests_active", "gauge", "Generations admitted by the server.");
  sample(out, "dsvl_requests_active", active_.load());
  header(out, "dsvl_model_ready", "gauge", "1 once the model is loaded.");
  sample(out, "dsvl_model_ready", ready ? 1 : 0);
  if (stats) {
    const std::pair<const char*, double> gauges[] = {
        {"dsvl_queue_length", double(stats->queued)},
        {"dsvl_requests_running", double(stats->running)},
        {"dsvl_slots", double(stats->slots)}};
    for (const auto& [name, v] : gauges) {
      header(out, name, "gauge", "Engine scheduler state.");
      sample(out, name, v);
    }
    const std::pair<const char*, double> caches[] = {
        {"dsvl_image_cache_hits_total", double(stats->image_cache_hits)},
        {"dsvl_image_cache_misses_total", double(stats->image_cache_misses)},
        {"dsvl_prefix_cache_hit_tokens_total", double(stats->prefix_cache_hit_tokens)}};
    for (const auto& [name, v] : caches) {
      header(out, name, "counter", "Engine cache counters.");
      sample(out, name, v);
    }
  }
  header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  sample(out, "process_resident_memory_bytes", double(resident_bytes()));
  return out;
}

int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace dsvl::server
