#include "cli/generation_flags.h"

#include <chrono>
#include <cstdio>

#include "cli/progress.h"
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

void reject_positional(const Args& a) {
  if (!a.positional().empty())
    throw RequestError("unexpected argument \"" + a.positional()[0] +
                       "\" (the prompt goes after -p; see --help)");
}

long long get_int_in(const Args& a, const std::string& flag, long long def, long long lo,
                     long long hi) {
  const long long v = a.get_int(flag, def);
  if (v < lo || v > hi)
    throw RequestError("flag " + flag + ": " + std::to_string(v) + " is out of range [" +
                       std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

LoadParams parse_load(const Args& a) {
  LoadParams p;
  p.model_dir = a.require("--model");
  p.ctx = int(get_int_in(a, "--ctx", 4096, 0, 1 << 20));  // 0: the model's default
  p.n_threads = int(get_int_in(a, "--threads", 0, 0, 1024));
  p.max_images = int(get_int_in(a, "--max-images", 8, 0, 1024));
  const std::string prec = a.get_or("--precision", "auto");
  if (prec == "auto")
    p.precision = Precision::kAuto;
  else if (prec == "f32")
    p.precision = Precision::kF32;
  else if (prec == "bf16")
    p.precision = Precision::kBF16;
  else
    throw RequestError("--precision must be auto, f32 or bf16, got \"" + prec + "\"");
  p.no_mmap = a.has("--no-mmap");
  p.no_repack = a.has("--no-repack");
  p.progress = false;  // load_engine draws its own spinner
  return p;
}

bool max_tokens_given(const Args& a) { return a.has("-n") || a.has("--n-predict"); }

SamplingParams parse_sampling(const Args& a) {
  SamplingParams s;
  const std::string n_flag = a.has("-n") ? "-n" : "--n-predict";
  s.max_tokens = int(get_int_in(a, n_flag, kDefaultMaxTokens, 0, 1 << 24));
  s.temperature = float(a.get_double("--temp", 0.2));
  s.top_p = float(a.get_double("--top-p", 0.95));
  s.top_k = int(get_int_in(a, "--top-k", 50, 0, 1 << 24));
  s.min_p = float(a.get_double("--min-p", 0.0));
  s.repetition_penalty = float(a.get_double("--repeat-penalty", 1.1));
  s.presence_penalty = float(a.get_double("--presence-penalty", 0.0));
  s.frequency_penalty = float(a.get_double("--frequency-penalty", 0.0));
  s.seed = a.has("--seed") ? uint64_t(get_int_in(a, "--seed", 0, 0, INT64_MAX))
                           : uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  s.stop = a.get_all("--stop");
  if (!(s.temperature >= 0 && s.temperature <= 100))
    throw RequestError("--temp must be in [0, 100]");
  if (!(s.top_p > 0 && s.top_p <= 1)) throw RequestError("--top-p must be in (0, 1]");
  if (!(s.min_p >= 0 && s.min_p <= 1)) throw RequestError("--min-p must be in [0, 1]");
  if (!(s.repetition_penalty > 0 && s.repetition_penalty <= 100))
    throw RequestError("--repeat-penalty must be in (0, 100]");
  return s;
}

std::unique_ptr<Engine> load_engine(const LoadParams& lp) {
  std::string name = lp.model_dir;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  Spinner spinner("loading " + name.substr(name.find_last_of('/') + 1));
  return Engine::load(lp);
}

void print_timings(const Result& r, const std::string& finish) {
  const Timings& t = r.timings;
  auto rate = [](int n, double ms) { return ms > 0 ? n * 1000.0 / ms : 0.0; };
  std::fprintf(stderr, "\n");
  std::fprintf(stderr, "load:          %9.2f ms\n", t.load_ms);
  std::fprintf(stderr, "image encode:  %9.2f ms (%d image tokens)\n", t.image_encode_ms,
               r.usage.image_tokens);
  std::fprintf(stderr, "prefill:       %9.2f ms / %5d tokens (%8.2f tok/s)\n", t.prefill_ms,
               t.prefill_tokens, rate(t.prefill_tokens, t.prefill_ms));
  std::fprintf(stderr, "decode:        %9.2f ms / %5d tokens (%8.2f tok/s)\n", t.decode_ms,
               t.decode_tokens, rate(t.decode_tokens, t.decode_ms));
  std::fprintf(stderr, "finish:        %s\n", finish.c_str());
}

}  // namespace dsvl::cli
