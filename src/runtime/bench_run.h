// `dsvl bench`: times a loaded model folder the way the engine runs it — vision towers,
// prefill, decode after the prompt and at depth 0, and time to first token through the whole
// request path (image bytes → preprocessing → towers → aligner → prefill → first token).
// Prompt tokens are random valid ids; the image is synthetic (made in memory), so any
// model folder works, synthetic or real.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dsvl/dsvl.h"
#include "kernels/cpu/probe.h"
#include "runtime/bench.h"
#include "runtime/pipeline.h"

namespace dsvl::runtime::bench {

struct BenchParams {
  std::string model_dir;
  int64_t n_prompt = 576;  // -p: prefill tokens, and the depth decode starts at
  int64_t n_gen = 64;      // -n: decode tokens
  int n_images = 1;        // --images: images per vision run (0: no vision rows)
  int threads = 0;         // -t: 0 keeps the pool's default (all cores)
  Precision precision = Precision::kAuto;
  bool no_mmap = false;    // --no-mmap: BF16 matrices copied into memory (LoadParams::no_mmap)
  bool no_repack = false;  // --no-repack: LLM matrices kept as stored (LoadParams::no_repack)
  int reps = 3;
  bool probe = false;  // measure the machine after the tests (probe.h) and set row limits
  bool warmup = true;  // one untimed pass first (maps the weights in, warms caches)
  uint64_t seed = 1;   // prompt ids
};

// What was loaded, for the header of the report.
struct BenchInfo {
  std::string model;         // folder name
  std::string architecture;  // "siglip" (1.3B layout) or "hybrid" (7B)
  int64_t n_params = 0;
  double llm_weight_bytes = 0;  // layer matrices + norms + lm_head as held in memory
  double file_bytes = 0;        // the folder's *.safetensors files
  double load_s = 0;
  int threads = 0;
  std::string precision;
};

// Checks p/n/images/reps against each other and the model's context; RequestError naming
// the flag otherwise. Needs only the config.
void check_params(const BenchParams& p, const io::ModelConfig& config);

class Bench {
 public:
  // Loads the folder (Pipeline::load); `log` receives progress lines (may be empty).
  Bench(const BenchParams& params, std::function<void(const std::string&)> log);

  const BenchInfo& info() const { return info_; }
  // Runs every test and calls on_row for each finished row: vision.sam (hybrid),
  // vision.siglip, prefill, decode, decode0, ttft (needs a tokenizer). With params.probe
  // the rows are held back until the machine has been probed (the probe's 1 GiB would
  // otherwise count in the rows' peak RSS).
  void run(const std::function<void(const Row&)>& on_row);
  // After run() with params.probe: the limits measured.
  const kernels::MachineLimits& limits() const { return limits_; }
  // After run(): the process's peak RSS over the tests (before any probe), MiB.
  double peak_rss_mb() const { return peak_rss_mb_; }

 private:
  std::vector<Row> vision_rows();
  std::vector<Row> llm_rows();
  Row ttft_row();
  enum class Limit { kCompute, kBandwidth };
  // Times run(); with params.probe, samples the row's limit right before and right after it
  // into `limits`, outside the timed span: the compute peak (kernels::sample_peak_gflops) or
  // the read bandwidth (kernels::sample_read_gbps, its buffer outside the peak RSS).
  Sample beside(std::vector<double>& limits, Limit kind, const std::function<void()>& run) const;
  void set_limits(std::vector<Row>& rows) const;
  void say(const std::string& s) const;

  BenchParams params_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<Pipeline> pipe_;
  BenchInfo info_;
  kernels::MachineLimits limits_;
  double peak_rss_mb_ = 0;
};

// A 24-bit BMP file of a width×height test picture (gradients and a grid), for requests
// that need real image bytes.
std::string synthetic_bmp(int width, int height);

// Bytes of the LLM weights one decode step reads: every layer's matrices and norms, the final
// norm and lm_head, in the dtypes held in memory.
double llm_weight_bytes(const llm::LlmWeights& w);

}  // namespace dsvl::runtime::bench
