#include "cli/generation_flags.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "core/error.h"

namespace dsvl::cli {

std::vector<std::string> generation_value_flags() {
  return {"--model",
          "-n",
          "--n-predict",
          "--temp",
          "--top-p",
          "--top-k",
          "--min-p",
          "--repeat-penalty",
          "--presence-penalty",
          "--frequency-penalty",
          "--seed",
          "--ctx",
          "--threads",
          "--max-images",
          "--precision",
          "--stop"};
}

LoadParams parse_load(const Args& a) {
  LoadParams p;
  p.model_dir = a.require("--model");
  p.ctx = int(a.get_int("--ctx", 4096));
  p.n_threads = int(a.get_int("--threads", 0));
  p.max_images = int(a.get_int("--max-images", 8));
  const std::string prec = a.get_or("--precision", "auto");
  if (prec == "auto")
    p.precision = Precision::kAuto;
  else if (prec == "f32")
    p.precision = Precision::kF32;
  else if (prec == "bf16")
    p.precision = Precision::kBF16;
  else
    throw RequestError("--precision must be auto, f32 or bf16, got \"" + prec + "\"");
  if (p.n_threads < 0 || p.n_threads > 1024) throw RequestError("--threads out of range");
  p.progress = isatty(2);
  return p;
}

SamplingParams parse_sampling(const Args& a) {
  SamplingParams s;
  s.max_tokens = int(a.get_int("-n", a.get_int("--n-predict", 512)));
  s.temperature = float(a.get_double("--temp", 0.2));
  s.top_p = float(a.get_double("--top-p", 0.95));
  s.top_k = int(a.get_int("--top-k", 50));
  s.min_p = float(a.get_double("--min-p", 0.0));
  s.repetition_penalty = float(a.get_double("--repeat-penalty", 1.1));
  s.presence_penalty = float(a.get_double("--presence-penalty", 0.0));
  s.frequency_penalty = float(a.get_double("--frequency-penalty", 0.0));
  s.seed = a.has("--seed") ? uint64_t(a.get_int("--seed", 0))
                           : uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  s.stop = a.get_all("--stop");
  if (s.max_tokens < 0) throw RequestError("-n must be ≥ 0");
  if (s.temperature < 0) throw RequestError("--temp must be ≥ 0");
  if (!(s.top_p > 0 && s.top_p <= 1)) throw RequestError("--top-p must be in (0, 1]");
  if (s.top_k < 0) throw RequestError("--top-k must be ≥ 0");
  if (!(s.repetition_penalty > 0)) throw RequestError("--repeat-penalty must be > 0");
  return s;
}

void print_timings(const Result& r) {
  const Timings& t = r.timings;
  auto rate = [](int n, double ms) { return ms > 0 ? n * 1000.0 / ms : 0.0; };
  std::fprintf(stderr, "\n\nload:          %9.2f ms\n", t.load_ms);
  std::fprintf(stderr, "image encode:  %9.2f ms (%d image tokens)\n", t.image_encode_ms,
               r.usage.image_tokens);
  std::fprintf(stderr, "prefill:       %9.2f ms / %5d tokens (%8.2f tok/s)\n", t.prefill_ms,
               t.prefill_tokens, rate(t.prefill_tokens, t.prefill_ms));
  std::fprintf(stderr, "decode:        %9.2f ms / %5d tokens (%8.2f tok/s)\n", t.decode_ms,
               t.decode_tokens, rate(t.decode_tokens, t.decode_ms));
}

}  // namespace dsvl::cli
