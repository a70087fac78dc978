#include "runtime/bench.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "vision/sam/sam.h"

namespace dsvl::runtime::bench {

namespace {

double maxrss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double g_carried_rss_mb = 0;  // the peak before the last high-water reset

bool reset_high_water() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

}  // namespace

double peak_rss_mb() { return std::max(g_carried_rss_mb, maxrss_mb()); }

bool outside_peak_rss(const std::function<void()>& fn) {
  g_carried_rss_mb = peak_rss_mb();
  static const bool can_reset = reset_high_water();
  if (!can_reset) return false;
  fn();
  reset_high_water();
  return true;
}

Stats stats(const std::vector<double>& xs) {
  Stats s;
  if (xs.empty()) return s;
  for (double x : xs) s.mean += x;
  s.mean /= double(xs.size());
  if (xs.size() < 2) return s;
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(ss / double(xs.size() - 1));
  return s;
}

int64_t llm_layer_matrix_params(const io::LlmConfig& c) {
  const int64_t h = c.hidden_size, kv = int64_t(c.num_key_value_heads) * c.head_dim();
  const int64_t attn = h * h + 2 * h * kv + h * h;  // q, k, v, o
  const int64_t mlp = 3 * h * int64_t(c.intermediate_size);
  return int64_t(c.num_hidden_layers) * (attn + mlp);
}

double llm_forward_flops(const io::LlmConfig& c, int64_t n_tokens, int64_t depth,
                         int64_t n_logits) {
  const double n = double(n_tokens), d = double(depth);
  // Row i (0-based) attends to depth + i + 1 keys: Σ = n·depth + n(n+1)/2.
  const double keys = n * d + n * (n + 1) / 2;
  const double attention = 4.0 * double(c.hidden_size) * keys * c.num_hidden_layers;
  return 2.0 * double(llm_layer_matrix_params(c)) * n + attention +
         2.0 * double(c.vocab_size) * c.hidden_size * double(n_logits);
}

double decode_bytes_per_token(double weight_bytes, double kv_bytes_per_position, double depth) {
  return weight_bytes + kv_bytes_per_position * depth;
}

double siglip_flops(const io::SiglipConfig& c) {
  const double T = c.n_tokens(), C = c.width, M = c.mlp_dim(), p = c.patch_size;
  const double block = 2 * T * C * (3 * C + C + 2 * M) + 4 * T * T * C;
  return 2 * T * C * 3 * p * p + c.layers * block;
}

double sam_flops(const io::SamConfig& c) {
  const double G2 = double(c.grid()) * c.grid(), C = c.width, F = c.mlp_ratio * C;
  const double w = c.window_size, P = c.prompt_embed_dim;
  const double D0 = c.downsample_channels[0], D1 = c.downsample_channels[1];
  const double linear = 2 * G2 * C * (3 * C + C + 2 * F);
  // Windows are padded to whole multiples of the window size; rel-pos terms add 2 · 2 · w.
  const double nw = std::ceil(c.grid() / w) * std::ceil(c.grid() / w);
  const double window_attn = nw * 4 * (w * w) * (w * w) * C + 2 * 2 * nw * w * w * w * C;
  const double global_attn = 4 * G2 * G2 * C + 2 * 2 * G2 * c.grid() * C;
  const double n_global = double(c.global_attn_indexes.size());
  const double blocks =
      c.layers * linear + (c.layers - n_global) * window_attn + n_global * global_attn;
  const double neck = 2 * G2 * C * P + 2 * G2 * P * P * 9;
  // Two stride-2 3×3 convolutions from the kNeckResize² interpolated grid (96 → 48 → 24).
  const double s1 = double(vision::sam::kNeckResize) / 2, s2 = s1 / 2;
  const double down = 2 * s1 * s1 * D0 * P * 9 + 2 * s2 * s2 * D1 * D0 * 9;
  const double patch = 2 * G2 * C * 3 * c.patch_size * c.patch_size;
  return patch + blocks + 2 * (neck + down);  // main and hd branches
}

Row make_row(const std::string& test, int64_t n, const std::vector<Sample>& runs,
             bool per_unit_ms) {
  Row r;
  r.test = test;
  r.n = n;
  r.reps = int(runs.size());
  std::vector<double> rate, wall, cpu;
  for (const Sample& s : runs) {
    rate.push_back(s.wall_s > 0 ? double(n) / s.wall_s : 0.0);
    wall.push_back(s.wall_s), cpu.push_back(s.cpu_s);
  }
  const Stats st = stats(rate);
  r.tok_per_s = st.mean;
  r.stddev = st.stddev;
  const double div = per_unit_ms && n > 0 ? double(n) : 1.0;
  r.ms = 1e3 * stats(wall).mean / div;
  r.cpu_ms = 1e3 * stats(cpu).mean / div;
  r.peak_rss_mb = peak_rss_mb();
  return r;
}

void set_limit(Row& row, const std::string& limit, double rate) {
  if (!(rate > 0) || !(row.work > 0)) return;
  row.limit = limit;
  row.limit_tok_per_s = double(row.n) * rate / row.work;
}

namespace {

bool is_bytes_row(const Row& r) { return r.test == "decode" || r.test == "decode0"; }

// x rounded to `digits` decimals, as the double nearest the decimal (prints short in JSON).
double round_to(double x, int digits) {
  const double k = std::pow(10.0, digits);
  return std::round(x * k) / k;
}

}  // namespace

std::string json_line(const Row& r) {
  nlohmann::ordered_json j;
  j["test"] = r.test;
  j["n"] = r.n;
  j["tok_per_s"] = round_to(r.tok_per_s, 4);
  j["stddev"] = round_to(r.stddev, 4);
  j["ms"] = round_to(r.ms, 3);
  j["threads"] = r.threads;
  j["precision"] = r.precision;
  j["cpu_ms"] = round_to(r.cpu_ms, 3);
  j["reps"] = r.reps;
  j["peak_rss_mb"] = round_to(r.peak_rss_mb, 1);
  if (!r.limit.empty()) {
    j["limit"] = r.limit;
    j["limit_tok_per_s"] = round_to(r.limit_tok_per_s, 4);
    j["pct_limit"] = round_to(100.0 * r.tok_per_s / r.limit_tok_per_s, 2);
    j[is_bytes_row(r) ? "bytes" : "flop"] = r.work;
    if (is_bytes_row(r))
      j["read_gbps"] = round_to(r.read_gbps, 2);
    else
      j["peak_gflops"] = round_to(r.peak_gflops, 1);
  }
  return j.dump();
}

std::string table_header() {
  char buf[256];
  std::snprintf(buf, sizeof buf, "| %-13s | %5s | %7s | %-9s | %20s | %10s | %10s | %-20s |\n",
                "test", "n", "threads", "precision", "t/s", "ms", "cpu ms", "% of limit");
  std::string s = buf;
  s += "| " + std::string(13, '-') + " | " + std::string(4, '-') + ": | " + std::string(6, '-') +
       ": | " + std::string(9, '-') + " | " + std::string(19, '-') + ": | " + std::string(9, '-') +
       ": | " + std::string(9, '-') + ": | " + std::string(20, '-') + " |\n";
  return s;
}

std::string table_row(const Row& r) {
  char rate[64], limit[64] = "-", buf[320];
  std::snprintf(rate, sizeof rate, "%.2f ± %.2f", r.tok_per_s, r.stddev);
  if (!r.limit.empty())
    std::snprintf(limit, sizeof limit, "%.1f%% of %s", 100.0 * r.tok_per_s / r.limit_tok_per_s,
                  r.limit.c_str());
  std::snprintf(buf, sizeof buf,
                "| %-13s | %5lld | %7d | %-9s | %21s | %10.2f | %10.2f | %-20s |\n", r.test.c_str(),
                static_cast<long long>(r.n), r.threads, r.precision.c_str(), rate, r.ms, r.cpu_ms,
                limit);
  return buf;
}

}  // namespace dsvl::runtime::bench
