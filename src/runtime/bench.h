// The measurement side of `dsvl bench` and bench/*.cpp: statistics over repetitions, the
// work model (FLOPs and bytes a run must move, from the config alone), and the output rows
// (llama-bench-style table, one JSON object per line). No model is run here; bench_run.h
// times the real pipeline.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "io/config.h"

namespace dsvl::runtime::bench {

// ---- timing ----

// Peak resident set size of the process so far (getrusage ru_maxrss), in MiB, not counting
// what ran inside outside_peak_rss.
double peak_rss_mb();

// Runs fn, whose memory (a probe's buffer, freed before it returns) should not count in
// peak_rss_mb: the peak so far is carried, fn runs, and the kernel's high-water mark is reset
// to the current RSS (Linux: /proc/self/clear_refs "5"). Returns false, without running fn,
// where the mark cannot be reset.
bool outside_peak_rss(const std::function<void()>& fn);

// One timed run (core/clock.h: wall and process CPU seconds).
using Sample = Timing;

// Mean and sample standard deviation (n − 1; 0 for fewer than two values).
struct Stats {
  double mean = 0;
  double stddev = 0;
};
Stats stats(const std::vector<double>& xs);

// ---- work model ----

// Parameters of the decoder layers' matrices (q, k, v, o, gate, up, down; no norms).
int64_t llm_layer_matrix_params(const io::LlmConfig& c);
// FLOPs of a forward pass over n_tokens new rows after `depth` cached positions, with logits
// for n_logits rows: 2 · matrix params per row, causal attention (QKᵀ and PV: 4 · hidden
// per key), and 2 · vocab · hidden per logit row. Norms, RoPE and softmax are not counted.
double llm_forward_flops(const io::LlmConfig& c, int64_t n_tokens, int64_t depth, int64_t n_logits);
// Bytes one decode step reads at `depth` cached positions: the weights it streams
// (`weight_bytes`: layer matrices + lm_head as held in memory) and the KV cache
// (`kv_bytes_per_position` per cached position).
double decode_bytes_per_token(double weight_bytes, double kv_bytes_per_position, double depth);

// FLOPs of one image through each tower (patch embedding, blocks with attention, SAM's
// necks and downsamples; LayerNorm and GELU not counted).
double siglip_flops(const io::SiglipConfig& c);
double sam_flops(const io::SamConfig& c);

// ---- output ----

struct Row {
  std::string test;      // "prefill", "decode", "decode0", "vision.siglip", "vision.sam", "ttft"
  int64_t n = 0;         // tokens (LLM rows, ttft: prompt tokens) or images (vision rows)
  double tok_per_s = 0;  // mean of n / seconds over the repetitions
  double stddev = 0;     // of tok_per_s
  double ms = 0;         // mean wall ms per run (vision: per image)
  int threads = 0;
  std::string precision;  // "f32" or "bf16": what the model ran in
  // Extras (after the contract keys in JSON).
  double cpu_ms = 0;           // mean process CPU ms per run (vision: per image)
  double work = 0;             // FLOPs (compute-bound rows) or bytes (decode rows) per run
  std::string limit;           // "fp32 peak", "bf16 peak", "bandwidth"; "" without --probe
  double limit_tok_per_s = 0;  // what the limit allows, in the row's unit
  double peak_rss_mb = 0;      // process peak RSS when the row was measured
  // Rows with a limit: the peak (compute rows, GFLOP/s) or read bandwidth (decode rows, GB/s)
  // they are compared with, the mean of the samples taken beside their timed runs
  // (kernels::sample_peak_gflops, kernels::sample_read_gbps).
  double peak_gflops = 0;
  double read_gbps = 0;
  int reps = 0;
};

// Builds a row from per-repetition samples of runs that each handle `n` units; per_unit_ms
// divides ms and cpu_ms by n (vision rows: ms per image).
Row make_row(const std::string& test, int64_t n, const std::vector<Sample>& runs, bool per_unit_ms);

// Sets limit and limit_tok_per_s: `rate` is the machine's figure in work units per second
// (FLOP/s or bytes/s), row.work the work of one run of row.n units.
void set_limit(Row& row, const std::string& limit, double rate);

// One line, keys in this order: test, n, tok_per_s, stddev, ms, threads, precision, then
// cpu_ms, reps, peak_rss_mb and, with a limit, limit, limit_tok_per_s, pct_limit, work
// ("flop" or "bytes" per run) and peak_gflops (flop rows) or read_gbps (bytes rows).
std::string json_line(const Row& row);

// The llama-bench-style table: header, separator, one line per row ("value ± stddev").
std::string table_header();
std::string table_row(const Row& row);

}  // namespace dsvl::runtime::bench
