// dsvl bench -m DIR: speed of a model folder, llama-bench style (runtime/bench_run.h).
// Progress goes to stderr, the table (or JSON lines) to stdout.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "runtime/bench_run.h"

namespace dsvl::cli {
namespace {

namespace rb = runtime::bench;

constexpr const char* kUsage =
    "usage: dsvl bench -m MODEL_DIR [-p 576] [-n 64] [--images 1] [-t THREADS]\n"
    "                  [--precision auto|f32|bf16] [--reps 3] [--probe] [--json] [--no-warmup]\n"
    "  Times the model as the engine runs it, mean ± stddev over --reps runs:\n"
    "    vision.sam     SAM-B tower (7B / hybrid models), ms per image; n = images\n"
    "    vision.siglip  SigLIP-L tower, ms per image; n = images\n"
    "    prefill        -p random prompt tokens into an empty cache, tok/s\n"
    "    decode         -n greedy tokens after the -p token prompt, tok/s\n"
    "    decode0        -n greedy tokens from an empty cache (llama-bench's tg), tok/s\n"
    "    ttft           one synthetic image + a short question through the whole request\n"
    "                   path (decode, preprocess, towers, aligner, prefill, first token);\n"
    "                   n = prompt tokens, ms = time to first token\n"
    "  -p N            prompt tokens (default 576)\n"
    "  -n N            generated tokens (default 64)\n"
    "  --images N      images per vision run (default 1; 0 skips the vision rows)\n"
    "  -t, --threads   threads (default: all cores)\n"
    "  --precision     auto (default), f32 or bf16; rows show the precision actually used\n"
    "  --reps R        repetitions of each test (default 3)\n"
    "  --probe         also measure this machine (read bandwidth, FP32 FMA and BF16 peaks)\n"
    "                  and show each row as a fraction of its limit: decode vs bytes read\n"
    "                  per token / bandwidth, prefill, vision and ttft vs FLOPs / peak\n"
    "  --json          one JSON object per line and test instead of the table\n"
    "  --no-warmup     skip the untimed first pass\n"
    "  --no-mmap       bf16: copy BF16 weights into memory instead of reading them mapped\n"
    "  --no-repack     keep the LLM's matrices as stored (default: repacked at load into\n"
    "                  the GEMMs' tile layout: on bf16, and BF16 weights on f32)\n";

Precision parse_precision(const std::string& s) {
  if (s == "auto") return Precision::kAuto;
  if (s == "f32") return Precision::kF32;
  if (s == "bf16") return Precision::kBF16;
  throw RequestError("--precision must be auto, f32 or bf16, got \"" + s + "\"");
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return in ? a + " " + b + " " + c : "unknown";
}

void print_header(const rb::BenchInfo& info) {
  std::printf(
      "model: %s (%s, %.3f B params), files %.2f GB, LLM weights %.2f GB, loaded in %.2f s\n",
      info.model.c_str(), info.architecture.c_str(), double(info.n_params) * 1e-9,
      info.file_bytes * 1e-9, info.llm_weight_bytes * 1e-9, info.load_s);
  std::printf("threads: %d, precision: %s\n\n%s", info.threads, info.precision.c_str(),
              rb::table_header().c_str());
}

// peaks, reads: "test value" for each compute-bound / decode row, the peak or read bandwidth
// sampled beside its runs (its limit).
void print_footer(const rb::Bench& bench, bool probe, const std::string& peaks,
                  const std::string& reads) {
  const double files_mb = bench.info().file_bytes / (1 << 20);
  const double extra = bench.peak_rss_mb() - files_mb;
  std::printf("\npeak RSS: %.1f MiB (weight files %.1f MiB %c %.1f MiB)\n", bench.peak_rss_mb(),
              files_mb, extra < 0 ? '-' : '+', std::abs(extra));
  if (probe) {
    const auto& l = bench.limits();
    // The bf16 rows' limit is the peak of what the bf16 GEMMs run on (AMX tiles where the CPU
    // has them, else vdpbf16ps, else the FP32 FMA peak: emulated); every peak measured is printed.
    std::printf("machine (probed after the tests): read %.1f GB/s, FP32 FMA %.0f GFLOP/s",
                l.read_gbps, l.fp32_gflops);
    if (l.bf16_dot_gflops > 0)
      std::printf(", BF16 dot (vdpbf16ps) %.0f GFLOP/s", l.bf16_dot_gflops);
    if (l.amx_bf16_gflops > 0) std::printf(", AMX %.0f GFLOP/s", l.amx_bf16_gflops);
    std::printf("; bf16 peak = %s", l.bf16_kernel);
    if (l.bf16_dot_gflops <= 0 && l.amx_bf16_gflops <= 0)
      std::printf(" (no bf16 instructions: bf16 values in FP32 FMAs)");
    std::printf("\n");
    if (!peaks.empty())
      std::printf("%s peak beside each row's runs (GFLOP/s, the rows' limit): %s\n",
                  bench.info().precision.c_str(), peaks.c_str());
    if (!reads.empty())
      std::printf("read bandwidth beside each row's runs (GB/s, the rows' limit): %s\n",
                  reads.c_str());
  }
  std::printf("load average: %s\n", load_average().c_str());
}

int run_bench(const std::vector<std::string>& argv) {
  Args a(argv,
         {"--model", "--n-prompt", "--n-gen", "--images", "--threads", "--precision", "--reps",
          "--seed"},
         {"--probe", "--json", "--no-warmup", "--no-mmap", "--no-repack", "--help"},
         {{"-m", "--model"},
          {"-p", "--n-prompt"},
          {"-n", "--n-gen"},
          {"-t", "--threads"},
          {"-r", "--reps"}});
  if (a.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty())
    throw RequestError("unexpected argument \"" + a.positional()[0] + "\"\n" + kUsage);
  rb::BenchParams p;
  p.model_dir = a.require("--model");
  p.n_prompt = a.get_int("--n-prompt", 576);
  p.n_gen = a.get_int("--n-gen", 64);
  p.n_images = int(a.get_int("--images", 1));
  p.threads = int(a.get_int("--threads", 0));
  p.reps = int(a.get_int("--reps", 3));
  p.seed = uint64_t(a.get_int("--seed", 1));
  p.precision = parse_precision(a.get_or("--precision", "auto"));
  p.no_mmap = a.has("--no-mmap");
  p.no_repack = a.has("--no-repack");
  p.probe = a.has("--probe");
  p.warmup = !a.has("--no-warmup");
  const bool json = a.has("--json");

  rb::Bench bench(p, [](const std::string& s) {
    std::fprintf(stderr, "bench: %s\n", s.c_str());
    std::fflush(stderr);
  });
  if (!json) print_header(bench.info());
  std::fflush(stdout);
  std::string peaks, reads;
  bench.run([&](const rb::Row& r) {
    if (r.peak_gflops > 0 || r.read_gbps > 0) {
      std::string& list = r.read_gbps > 0 ? reads : peaks;
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s%s %.*f", list.empty() ? "" : ", ", r.test.c_str(),
                    r.read_gbps > 0 ? 1 : 0, r.read_gbps > 0 ? r.read_gbps : r.peak_gflops);
      list += buf;
    }
    std::fputs((json ? rb::json_line(r) + "\n" : rb::table_row(r)).c_str(), stdout);
    std::fflush(stdout);
  });
  if (!json) print_footer(bench, p.probe, peaks, reads);
  std::fprintf(stderr, "bench: done; peak RSS %.1f MiB, load average %s\n", bench.peak_rss_mb(),
               load_average().c_str());
  return 0;
}

const Registration kBench({"bench",
                           "measure speed: vision, prefill, decode, ttft (llama-bench style)",
                           run_bench});

}  // namespace
}  // namespace dsvl::cli
