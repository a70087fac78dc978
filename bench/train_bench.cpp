// One training step (forward + backward + clip + AdamW) at the DeepSeek-VL 1.3B widths with
// reduced depth (4 LLM layers, 4 SigLIP blocks; the full 1.3B's fp32 AdamW state does not
// fit this machine), sequence 640 with one image (BOS, 30 text, 576 image, 33 text ids),
// pretraining labels. Stage 2 (aligner + LLM) and stage 3 (+ SigLIP). Weights are random,
// frozen ones stored in BF16 like the released checkpoints. Also the step's main GEMM shapes
// alone. Counters: tok/s, GFLOP/s of the GEMMs over the step's wall time, % of the 427
// GFLOP/s FP32 FMA peak of this 2-core machine, peak RSS.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <random>

#include "core/clock.h"
#include "core/threadpool.h"
#include "kernels/cpu/gemm_profile.h"
#include "kernels/cpu/train_gemm.h"
#include "runtime/bench.h"
#include "train/adamw.h"
#include "train/model.h"
#include "train/stages.h"
#include "train/weights.h"

namespace {

using namespace dsvl;
using namespace dsvl::train;

constexpr double kPeakGflops = 427.0;
constexpr int64_t kImageId = 100015;

io::ModelConfig config_1p3b_reduced() {
  io::ModelConfig c;
  c.vision.kind = io::VisionKind::kSiglip;
  c.vision.siglip.layers = 4;
  c.aligner.kind = io::AlignerKind::kMlpGelu;
  c.aligner.depth = 2;
  c.aligner.input_dim = 1024;
  c.aligner.n_embed = 2048;
  c.llm.vocab_size = 102400;
  c.llm.hidden_size = 2048;
  c.llm.intermediate_size = 5632;
  c.llm.num_hidden_layers = 4;
  c.llm.num_attention_heads = 16;
  c.llm.num_key_value_heads = 16;
  return c;
}

void add(ParamSet& ps, std::mt19937& rng, const std::string& key, const Shape& s, float scale,
         float mean = 0.0f) {
  std::normal_distribution<float> nd(mean, scale);
  std::vector<float> v(size_t(shape_numel(s)));
  for (auto& x : v) x = nd(rng);
  ps.add(key, s, v, DType::kBF16);
}

std::unique_ptr<TrainModel> build_model() {
  const io::ModelConfig c = config_1p3b_reduced();
  std::mt19937 rng(1);
  ParamSet ps;
  const int64_t D = c.llm.hidden_size, F = c.llm.intermediate_size, V = c.llm.vocab_size;
  const float sd = 1.0f / std::sqrt(float(D)), sf = 1.0f / std::sqrt(float(F));
  add(ps, rng, "language_model.model.embed_tokens.weight", {V, D}, 1.0f);
  add(ps, rng, "language_model.lm_head.weight", {V, D}, sd);
  add(ps, rng, "language_model.model.norm.weight", {D}, 0.1f, 1.0f);
  for (int l = 0; l < c.llm.num_hidden_layers; ++l) {
    const std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    for (const char* n : {"q", "k", "v", "o"})
      add(ps, rng, p + "self_attn." + n + "_proj.weight", {D, D}, sd);
    add(ps, rng, p + "mlp.gate_proj.weight", {F, D}, sd);
    add(ps, rng, p + "mlp.up_proj.weight", {F, D}, sd);
    add(ps, rng, p + "mlp.down_proj.weight", {D, F}, sf);
    add(ps, rng, p + "input_layernorm.weight", {D}, 0.1f, 1.0f);
    add(ps, rng, p + "post_attention_layernorm.weight", {D}, 0.1f, 1.0f);
  }
  const int64_t C = c.vision.siglip.width, Fs = c.vision.siglip.mlp_dim(), E = c.aligner.n_embed;
  const float sc = 1.0f / std::sqrt(float(C));
  add(ps, rng, "aligner.layers.0.weight", {E, C}, sc);
  add(ps, rng, "aligner.layers.0.bias", {E}, 0.05f);
  add(ps, rng, "aligner.layers.2.weight", {E, E}, 1.0f / std::sqrt(float(E)));
  add(ps, rng, "aligner.layers.2.bias", {E}, 0.05f);
  const std::string v = "vision_model.vision_tower.";
  add(ps, rng, v + "pos_embed", {1, 576, C}, 0.2f);
  add(ps, rng, v + "patch_embed.proj.weight", {C, 3, 16, 16}, 1.0f / std::sqrt(768.0f));
  add(ps, rng, v + "patch_embed.proj.bias", {C}, 0.05f);
  for (int b = 0; b < c.vision.siglip.layers; ++b) {
    const std::string p = v + "blocks." + std::to_string(b) + ".";
    for (const char* n : {"norm1", "norm2"}) {
      add(ps, rng, p + n + ".weight", {C}, 0.1f, 1.0f);
      add(ps, rng, p + n + ".bias", {C}, 0.05f);
    }
    add(ps, rng, p + "attn.qkv.weight", {3 * C, C}, sc);
    add(ps, rng, p + "attn.qkv.bias", {3 * C}, 0.05f);
    add(ps, rng, p + "attn.proj.weight", {C, C}, sc);
    add(ps, rng, p + "attn.proj.bias", {C}, 0.05f);
    add(ps, rng, p + "mlp.fc1.weight", {Fs, C}, sc);
    add(ps, rng, p + "mlp.fc1.bias", {Fs}, 0.05f);
    add(ps, rng, p + "mlp.fc2.weight", {C, Fs}, 1.0f / std::sqrt(float(Fs)));
    add(ps, rng, p + "mlp.fc2.bias", {C}, 0.05f);
  }
  add(ps, rng, v + "norm.weight", {C}, 0.1f, 1.0f);
  add(ps, rng, v + "norm.bias", {C}, 0.05f);
  return std::make_unique<TrainModel>(c, std::move(ps));
}

struct Batch {
  ImageInput image;
  std::vector<Row> rows;
};

Batch make_batch() {
  Batch b;
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  b.image.name = "random";
  b.image.pixels = Tensor({3, 384, 384});
  for (auto& x : b.image.pixels.data) x = u(rng);
  Row r;
  std::uniform_int_distribution<int64_t> tok(2, 99999);
  r.ids.push_back(100000);
  for (int i = 0; i < 30; ++i) r.ids.push_back(tok(rng));
  r.ids.insert(r.ids.end(), 576, kImageId);
  for (int i = 0; i < 32; ++i) r.ids.push_back(tok(rng));
  r.ids.push_back(100001);
  r.labels = r.ids;
  r.labels[0] = kIgnoreIndex;
  for (auto& l : r.labels)
    if (l == kImageId) l = kIgnoreIndex;
  r.images = {&b.image};
  b.rows = {r};
  return b;
}

void BM_TrainStep(benchmark::State& state) {
  static std::unique_ptr<TrainModel> model = build_model();
  static Batch batch = make_batch();
  model->set_image_token_id(kImageId);
  const TrainableSet ts = stage_trainable_set(int(state.range(0)), model->config());
  model->set_trainable(ts.prefixes, ts.excluded);
  AdamWConfig ac;
  ac.lr = 1e-5;
  AdamW opt(ac);
  model->params().zero_grad();
  auto step = [&] {  // the step leaves the gradients zeroed for the next one
    model->forward_backward(batch.rows);
    opt.step(model->params(), ac.lr, opt.clip_coef(opt.grad_norm(model->params())), true);
  };
  step();  // warm-up: allocates activations and optimizer state
  kernels::gemm_profile_reset();
  const uint64_t f0 = kernels::gemm_flop_count();
  const double c0 = process_cpu_seconds();
  int64_t steps = 0;
  for (auto _ : state) {
    step();
    ++steps;
  }
  const double flops = double(kernels::gemm_flop_count() - f0) / double(steps);
  const double tokens = double(batch.rows[0].ids.size());
  state.counters["tok/s"] = benchmark::Counter(tokens * double(steps), benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(steps) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/step"] = flops / 1e9;
  const double cpu_per_step = (process_cpu_seconds() - c0) / double(steps);
  state.counters["cpu_s/step"] = cpu_per_step;
  // Per CPU-second of all threads; × 2 threads = the rate on an otherwise idle machine.
  state.counters["GFLOP/cpu_s"] = flops / 1e9 / cpu_per_step;
  state.counters["trainable_M"] = double(model->params().trainable_numel()) / 1e6;
  state.counters["peak_rss_GB"] = runtime::bench::peak_rss_mb() / 1024.0;
  if (kernels::gemm_profiling())  // DSVL_GEMM_PROFILE=1: per-shape GEMM table on stderr
    std::fprintf(stderr,
                 "stage %d GEMMs over %lld steps (%% of the %.1f GFLOP/s one-core peak):\n%s",
                 int(state.range(0)), (long long)steps, kPeakGflops / 2,
                 kernels::gemm_profile_report(kPeakGflops / 2).c_str());
  state.SetLabel("stage " + std::to_string(state.range(0)) + ", T=640, % of peak = GFLOP/s / " +
                 std::to_string(int(kPeakGflops)));
}
BENCHMARK(BM_TrainStep)->Arg(2)->Arg(3)->Iterations(2)->Unit(benchmark::kSecond)->UseRealTime();

// The step's GEMM shapes alone: forward y = x·Wᵀ (NT), dx = dy·W (NN), dW += dyᵀ·x (TN) for
// the LLM MLP (640 tokens, 2048 → 5632) and for lm_head on the ~64 rows that carry a loss
// (2048 → 102400). Args: shape (0 = MLP, 1 = lm_head), product (0 NT, 1 NN, 2 TN), threads.
// GFLOP/cpu_s is per CPU-second of all threads (compare with the 213.5 one-core peak; the
// steadier figure on a shared machine).
void BM_TrainGemm(benchmark::State& state) {
  const bool head = state.range(0) == 1;
  const int64_t M = head ? 64 : 640, K = 2048, N = head ? 102400 : 5632;
  std::vector<float> x(size_t(M * K), 0.5f), w(size_t(N * K), 0.25f), y(size_t(M * N), 0.1f);
  std::vector<float> dx(size_t(M * K)), dw(size_t(N * K));
  const int which = int(state.range(1));
  const int threads0 = num_threads();
  set_num_threads(int(state.range(2)));
  const double c0 = process_cpu_seconds();
  for (auto _ : state) {
    if (which == 0)
      kernels::gemm(M, N, K, kernels::mat(x.data(), K), kernels::mat_t(w.data(), K), y.data(), N,
                    false);
    else if (which == 1)
      kernels::gemm(M, K, N, kernels::mat(y.data(), N), kernels::mat(w.data(), K), dx.data(), K,
                    false);
    else
      kernels::gemm(N, K, M, kernels::mat_t(y.data(), N), kernels::mat(x.data(), K), dw.data(), K,
                    true);
    benchmark::ClobberMemory();
  }
  const double cpu = process_cpu_seconds() - c0;
  set_num_threads(threads0);
  const double flops = 2.0 * double(M * N * K) * double(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/cpu_s"] = flops / 1e9 / cpu;
  state.counters["%peak_cpu"] = 100.0 * flops / 1e9 / cpu / (kPeakGflops / 2);
  state.SetLabel(std::string(head ? "lm_head " : "mlp ") + (which == 0   ? "NT y = x·Wt"
                                                            : which == 1 ? "NN dx = dy·W"
                                                                         : "TN dW += dyt·x"));
}
BENCHMARK(BM_TrainGemm)
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
