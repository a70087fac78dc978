// Language-model speed at the real DeepSeek-VL 1.3B layer shapes (hidden 2048, FFN 5632, 16
// heads of 128, vocab 102400) on random BF16 weights, at both GEMM precisions: the second
// argument of every benchmark is 0 for the exact float32 path (weights widened on the fly), 1
// for the bf16 path (bf16 dot products, float32 accumulation; the weights are used zero-copy).
// Depth is reduced to keep memory and setup small: DSVL_BENCH_LAYERS (default 2). A 24-layer
// figure follows from the per-layer benchmarks:
//   decode ms/token(24) ≈ Decode(L) + (24 − L) · DecodeLayer
//   prefill ms(24)       ≈ Prefill(L) + (24 − L) · PrefillLayer
// DSVL_BENCH_MODEL=DIR benchmarks the language model of a model folder instead (e.g.
// `dsvl synth --like 1.3b-chat DIR`: all 24 layers, weights as stored — F16 ones are converted
// once to bf16 for the bf16 runs, as Pipeline does).
// Counters: tok_per_s (tokens per second of the measured call, wall clock), cpu_ms (CPU time
// of all threads per iteration: on a busy shared machine, cpu_ms / threads estimates the wall
// time an idle machine would give).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/threadpool.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/cpu/causal_attention.h"
#include "kernels/cpu/matmul.h"
#include "llm/layers.h"
#include "llm/llm.h"
#include "llm/random_model.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"

namespace {

using namespace dsvl;

// Records cpu_ms per iteration for the loop it brackets.
class CpuMeter {
 public:
  explicit CpuMeter(benchmark::State& s) : state_(s), t0_(process_cpu_seconds()) {}
  ~CpuMeter() {
    const double n = double(std::max<int64_t>(1, state_.iterations()));
    state_.counters["cpu_ms"] = 1e3 * (process_cpu_seconds() - t0_) / n;
    state_.counters["threads"] = num_threads();
  }

 private:
  benchmark::State& state_;
  double t0_;
};

io::LlmConfig config_1p3b() {
  io::LlmConfig c{.vocab_size = 102400,
                  .hidden_size = 2048,
                  .intermediate_size = 5632,
                  .num_attention_heads = 16,
                  .num_key_value_heads = 16,
                  .max_position_embeddings = 16384};
  const char* env = std::getenv("DSVL_BENCH_LAYERS");
  c.num_hidden_layers = env ? std::max(1, std::atoi(env)) : 2;
  return c;
}

// One model per precision (0: f32, 1: bf16) over one set of weights: DSVL_BENCH_MODEL's, or
// random BF16 ones. Only the model of the running benchmark is kept (a 1.3B bf16 copy of F16
// weights is 3 GB).
const llm::Llm& model(int64_t precision) {
  static std::unique_ptr<llm::Llm> m;
  const auto p = precision ? kernels::Precision::kBF16 : kernels::Precision::kF32;
  if (m && m->precision() == p) return *m;
  m.reset();
  if (const char* dir = std::getenv("DSVL_BENCH_MODEL")) {
    static const io::ModelConfig mc = io::load_model_config(dir);
    static const io::WeightStore store = io::WeightStore::open(dir);
    m = llm::Llm::load(mc, store, 0, p);
  } else {
    static const io::LlmConfig c = config_1p3b();
    static const auto weights = llm::make_random_llm_weights(c, DType::kBF16, 1);
    m = llm::load_in_memory(c, weights, p);
  }
  return *m;
}

std::vector<float> embeds(const llm::Llm& m, int64_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = int32_t((i * 7919) % 100000);
  std::vector<float> x(size_t(n * m.hidden_size()));
  m.embed(ids.data(), n, x.data());
  return x;
}

// Whole model: prompt of n tokens, logits of the last one.
void BM_Prefill(benchmark::State& state) {
  const llm::Llm& m = model(state.range(1));
  const int64_t n = state.range(0);
  const std::vector<float> x = embeds(m, n);
  runtime::KvCache kv(m.config(), n, runtime::kv_dtype(m.precision()));
  llm::Workspace ws(m.config(), runtime::kDefaultPrefillChunk, n);
  std::vector<float> logits(size_t(m.vocab_size()));
  {
    CpuMeter meter(state);
    for (auto _ : state) {
      kv.clear();
      m.forward(x.data(), n, kv.view(), ws, n - 1, logits.data());
      benchmark::DoNotOptimize(logits.data());
    }
  }
  state.counters["tok_per_s"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["layers"] = m.config().num_hidden_layers;
}

// Whole model: one new token after a context of n tokens (embed + layers + lm_head).
void BM_Decode(benchmark::State& state) {
  const llm::Llm& m = model(state.range(1));
  const int64_t n = state.range(0);
  const std::vector<float> x = embeds(m, n + 1);
  runtime::KvCache kv(m.config(), n + 1, runtime::kv_dtype(m.precision()));
  llm::Workspace ws(m.config(), runtime::kDefaultPrefillChunk, n + 1);
  std::vector<float> logits(size_t(m.vocab_size())), one(size_t(m.hidden_size()));
  m.forward(x.data(), n, kv.view(), ws, n, logits.data());
  const int32_t tok = 4242;
  {
    CpuMeter meter(state);
    for (auto _ : state) {
      kv.truncate(n);
      m.embed(&tok, 1, one.data());
      m.forward(one.data(), 1, kv.view(), ws, 0, logits.data());
      benchmark::DoNotOptimize(logits.data());
    }
  }
  state.counters["tok_per_s"] =
      benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["layers"] = m.config().num_hidden_layers;
}

// One decoder layer over `rows` rows that follow a context of `past` cached positions.
void run_layer(benchmark::State& state, int64_t past, int64_t rows) {
  const llm::Llm& m = model(state.range(1));
  const io::LlmConfig& c = m.config();
  runtime::KvCache kv(c, past + rows, runtime::kv_dtype(m.precision()));
  llm::Workspace ws(c, std::max<int64_t>(rows, 1), past + rows);
  const std::vector<float> x = embeds(m, rows);
  const kernels::RopeTable rope = kernels::make_rope_table(c.head_dim(), c.rope_theta, past + rows);
  ws.pieces.assign(1, llm::Piece{&kv.view(), 0, rows, past, rows});
  {
    CpuMeter meter(state);
    for (auto _ : state) {
      std::copy(x.begin(), x.end(), ws.x.begin());
      llm::block_forward(m.weights().layers[0], 0, c, rope, ws.pieces, rows, ws, m.precision());
      benchmark::DoNotOptimize(ws.x.data());
    }
  }
  state.counters["tok_per_s"] =
      benchmark::Counter(double(rows), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_PrefillLayer(benchmark::State& state) { run_layer(state, 0, state.range(0)); }
void BM_DecodeLayer(benchmark::State& state) { run_layer(state, state.range(0), 1); }

// Final norm + lm_head for one row (the part of decode that does not scale with depth).
void BM_LmHead(benchmark::State& state) {
  const llm::Llm& m = model(state.range(1));
  const std::vector<float> x = embeds(m, 1);
  std::vector<float> logits(size_t(m.vocab_size()));
  {
    CpuMeter meter(state);
    for (auto _ : state) {
      kernels::linear(x.data(), 1, m.weights().lm_head, nullptr, logits.data(), m.precision());
      benchmark::DoNotOptimize(logits.data());
    }
  }
}

// Attention alone at the 1.3B shape (16 heads of 128): `rows` query rows after `past` cached
// positions, KV cache float32 (0) or bf16 (1). Per layer; a decode step runs 24 of these.
void BM_Attention(benchmark::State& state) {
  const int64_t past = state.range(0), rows = state.range(1);
  const DType dt = state.range(2) ? DType::kBF16 : DType::kF32;
  const kernels::AttentionDims dims{16, 16, 128};
  const int64_t width = 16 * 128, cap = past + rows, n_kv = 16 * cap * 128;
  std::vector<float> q(static_cast<size_t>(rows * width), 0.01f), out(q.size()),
      kf(static_cast<size_t>(n_kv));
  for (int64_t i = 0; i < n_kv; ++i) kf[size_t(i)] = float((i * 7919) % 1000) * 1e-3f - 0.5f;
  std::vector<uint16_t> kb(kf.size());
  kernels::kv_store(kf.data(), n_kv, kb.data(), DType::kBF16);
  const void* kv = dt == DType::kBF16 ? static_cast<const void*>(kb.data()) : kf.data();
  const kernels::AttentionJob job{q.data(), width, out.data(), width,     rows,
                                  past,     kv,    kv,         cap * 128, dt};
  kernels::AttentionScratch scratch;
  {
    CpuMeter meter(state);
    for (auto _ : state) {
      kernels::causal_attention({&job, 1}, dims, scratch);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters["kv_MB"] = double(n_kv) * 2 * double(dtype_size(dt)) * 1e-6;
}

BENCHMARK(BM_Attention)
    ->ArgsProduct({{576}, {1, 576}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();
BENCHMARK(BM_Prefill)
    ->ArgsProduct({{128, 576, 624}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_Decode)
    ->ArgsProduct({{576, 624, 2048}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_PrefillLayer)
    ->ArgsProduct({{128, 624}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_DecodeLayer)
    ->ArgsProduct({{624, 2048}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_LmHead)
    ->ArgsProduct({{1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

}  // namespace
