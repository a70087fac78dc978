// Full-size vision towers on random weights of the real shapes (default SiglipConfig /
// SamConfig = SigLIP-L/16 at 384, SAM-B at 1024): F32 weights on the float32 path (f32), BF16
// weights on the float32 path (bf16w_f32) and on the bf16 GEMM path (bf16). Reports images/s,
// GFLOP/s and the fraction of the 2-thread FP32 FMA peak (427 GFLOP/s,
// ../shared/research/perf-anchors.md), plus the activation memory of one call.
//
//   ./build/vision_bench --benchmark_min_time=1   (DSVL_THREADS=n to change the thread count)
//
// Weights are built in memory (no checkpoint needed): every tensor is its own buffer, so
// the towers stream as many weight bytes as the real ones do.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/threadpool.h"
#include "runtime/bench.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "io/config.h"
#include "kernels/cpu/attention.h"
#include "vision/sam/sam.h"
#include "vision/siglip/siglip.h"

namespace dsvl::vision {
namespace {

constexpr double kPeakGflops = 427.0;  // 2 threads × 2 FMA/cycle × 16 lanes × 2 × 3.35 GHz

// Owns every random tensor; hands out views in the requested dtype.
class Arena {
 public:
  explicit Arena(DType dtype) : dtype_(dtype) {}

  // Uniform in [−a, a] with a = sqrt(3/fan_in) (unit-variance outputs), or `fill` if given.
  TensorView tensor(const Shape& shape, int64_t fan_in, float fill = NAN) {
    const int64_t n = shape_numel(shape);
    const float a = std::sqrt(3.0f / float(std::max<int64_t>(fan_in, 1)));
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = std::isnan(fill) ? a * (2.0f * next() - 1.0f) : fill;
    auto& bytes = blobs_.emplace_back(size_t(n) * dtype_size(dtype_));
    if (dtype_ == DType::kF32) {
      std::memcpy(bytes.data(), v.data(), bytes.size());
    } else {
      auto* h = reinterpret_cast<uint16_t*>(bytes.data());
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(v[size_t(i)]);
    }
    return TensorView{dtype_, shape, bytes.data()};
  }
  std::vector<float> floats(int64_t n, float fill) { return std::vector<float>(size_t(n), fill); }

 private:
  float next() {  // xorshift64*: fast, good enough for weights
    s_ ^= s_ >> 12, s_ ^= s_ << 25, s_ ^= s_ >> 27;
    return float((s_ * 2685821657736338717ull) >> 40) / float(1 << 24);
  }
  DType dtype_;
  uint64_t s_ = 0x9e3779b97f4a7c15ull;
  std::vector<std::vector<uint8_t>> blobs_;
};

double siglip_gflop(const io::SiglipConfig& c) { return runtime::bench::siglip_flops(c) * 1e-9; }
double sam_gflop(const io::SamConfig& c) { return runtime::bench::sam_flops(c) * 1e-9; }

siglip::Weights random_siglip(const io::SiglipConfig& c, Arena& a) {
  const int64_t C = c.width, M = c.mlp_dim(), T = c.n_tokens(), p = c.patch_size;
  siglip::Weights w;
  w.patch_embed_proj_weight = a.tensor({C, 3, p, p}, 3 * p * p);
  w.patch_embed_proj_bias = a.tensor({C}, 1, 0.0f);
  w.pos_embed = a.tensor({1, T, C}, 1);
  for (int i = 0; i < c.layers; ++i) {
    siglip::BlockWeights b;
    b.norm1_weight = a.floats(C, 1.0f), b.norm1_bias = a.floats(C, 0.0f);
    b.norm2_weight = a.floats(C, 1.0f), b.norm2_bias = a.floats(C, 0.0f);
    b.attn_qkv_weight = a.tensor({3 * C, C}, C), b.attn_qkv_bias = a.tensor({3 * C}, 1, 0.0f);
    b.attn_proj_weight = a.tensor({C, C}, C), b.attn_proj_bias = a.tensor({C}, 1, 0.0f);
    b.mlp_fc1_weight = a.tensor({M, C}, C), b.mlp_fc1_bias = a.tensor({M}, 1, 0.0f);
    b.mlp_fc2_weight = a.tensor({C, M}, M), b.mlp_fc2_bias = a.tensor({C}, 1, 0.0f);
    w.blocks.push_back(std::move(b));
  }
  w.norm_weight = a.floats(C, 1.0f), w.norm_bias = a.floats(C, 0.0f);
  return w;
}

sam::Weights random_sam(const io::SamConfig& c, Arena& a) {
  const int64_t C = c.width, G = c.grid(), d = c.head_dim(), p = c.patch_size;
  const int64_t F = c.mlp_ratio * C, P = c.prompt_embed_dim;
  const int64_t D0 = c.downsample_channels[0], D1 = c.downsample_channels[1];
  sam::Weights w;
  w.patch_embed_proj_weight = a.tensor({C, 3, p, p}, 3 * p * p);
  w.patch_embed_proj_bias = a.tensor({C}, 1, 0.0f);
  w.pos_embed = a.tensor({1, G, G, C}, 1);
  for (int i = 0; i < c.layers; ++i) {
    sam::BlockWeights b;
    bool global = false;
    for (int g : c.global_attn_indexes) global |= g == i;
    b.window = global ? 0 : c.window_size;
    const int64_t S = global ? G : c.window_size;
    b.norm1_weight = a.floats(C, 1.0f), b.norm1_bias = a.floats(C, 0.0f);
    b.norm2_weight = a.floats(C, 1.0f), b.norm2_bias = a.floats(C, 0.0f);
    b.attn_qkv_weight = a.tensor({3 * C, C}, C), b.attn_qkv_bias = a.tensor({3 * C}, 1, 0.0f);
    b.attn_qkv_bias_f = a.floats(3 * C, 0.0f);
    b.attn_rel_pos_h = a.floats((2 * S - 1) * d, 0.01f);
    b.attn_rel_pos_w = a.floats((2 * S - 1) * d, 0.01f);
    b.attn_proj_weight = a.tensor({C, C}, C), b.attn_proj_bias = a.tensor({C}, 1, 0.0f);
    b.mlp_lin1_weight = a.tensor({F, C}, C), b.mlp_lin1_bias = a.tensor({F}, 1, 0.0f);
    b.mlp_lin2_weight = a.tensor({C, F}, F), b.mlp_lin2_bias = a.tensor({C}, 1, 0.0f);
    w.blocks.push_back(std::move(b));
  }
  for (sam::NeckWeights* n : {&w.neck, &w.neck_hd}) {
    n->conv0_weight = a.tensor({P, C, 1, 1}, C);
    n->norm1_weight = a.floats(P, 1.0f), n->norm1_bias = a.floats(P, 0.0f);
    n->conv2_weight = a.tensor({P, P, 3, 3}, 9 * P);
    n->norm3_weight = a.floats(P, 1.0f), n->norm3_bias = a.floats(P, 0.0f);
  }
  w.downsamples_0_weight = a.tensor({D0, P, 3, 3}, 9 * P);
  w.downsamples_1_weight = a.tensor({D1, D0, 3, 3}, 9 * D0);
  w.hd_alpha_downsamples = 0.5f;
  w.first_global = c.global_attn_indexes.front();
  return w;
}

std::vector<float> random_image(int64_t S) {
  std::vector<float> img(size_t(3 * S * S));
  for (size_t i = 0; i < img.size(); ++i) img[i] = float((i * 2654435761u) % 256) / 255.0f;
  return img;
}

void set_threads() {
  if (const char* t = std::getenv("DSVL_THREADS")) set_num_threads(std::atoi(t));
}

void report(benchmark::State& state, double gflop, size_t activation_bytes, double cpu_s) {
  const double images = double(state.iterations());
  state.counters["cpu_s/img"] = cpu_s / images;
  state.counters["GFLOP/cpu_s"] = gflop * images / cpu_s;
  state.counters["images/s"] = benchmark::Counter(images, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(images * gflop, benchmark::Counter::kIsRate);
  state.counters["GFLOP/img"] = gflop;
  state.counters["act_MB"] = double(activation_bytes) / (1 << 20);
  state.counters["threads"] = num_threads();
}

void BM_SiglipL384(benchmark::State& state, DType dtype, kernels::Precision p) {
  set_threads();
  const io::SiglipConfig c;
  Arena arena(dtype);
  siglip::Weights w = random_siglip(c, arena);
  w.precision = p;
  const auto img = random_image(c.image_size);
  std::vector<float> out(size_t(c.n_tokens()) * size_t(c.width));
  siglip::Scratch s(c);
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    siglip::forward(w, c, img.data(), out.data(), s, nullptr);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, siglip_gflop(c), s.bytes() + out.size() * sizeof(float),
         process_cpu_seconds() - cpu0);
  state.counters["peak_frac"] = benchmark::Counter(
      siglip_gflop(c) / kPeakGflops * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_SamB1024(benchmark::State& state, DType dtype, kernels::Precision p) {
  set_threads();
  const io::SamConfig c;
  Arena arena(dtype);
  sam::Weights w = random_sam(c, arena);
  w.precision = p;
  const auto img = random_image(c.image_size);
  std::vector<float> out(size_t(c.out_channels()) * sam::kOutSide * sam::kOutSide);
  sam::Scratch s(c);
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    sam::forward(w, c, img.data(), out.data(), s, nullptr);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, sam_gflop(c), s.bytes() + out.size() * sizeof(float), process_cpu_seconds() - cpu0);
  state.counters["peak_frac"] = benchmark::Counter(
      sam_gflop(c) / kPeakGflops * double(state.iterations()), benchmark::Counter::kIsRate);
}

// Per-core FP32 FMA throughput right now (16 independent 512-bit FMA chains), in GFLOP per
// CPU-second like "GFLOP/cpu_s" above: the denominator for efficiency on a busy host.
void BM_FmaPeakOneCore(benchmark::State& state) {
#if defined(__AVX512F__)
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  const double cpu0 = process_cpu_seconds();
  constexpr int64_t kSteps = 20'000'000;
  for (auto _ : state) {
    for (int64_t k = 0; k < kSteps; ++k)
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    for (int i = 0; i < 16; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  const double gflop = double(state.iterations()) * kSteps * 16 * 32 * 1e-9;
  state.counters["GFLOP/cpu_s"] = gflop / (process_cpu_seconds() - cpu0);
#else
  state.SkipWithError("needs AVX-512");
#endif
}
BENCHMARK(BM_FmaPeakOneCore)->Unit(benchmark::kMillisecond);

// One head of attention at the towers' sizes: SAM global (4096 keys, rel-pos bias), SAM window
// (196), SigLIP (576); head dim 64. Single-threaded kernel: GFLOP/s per core.
void BM_AttentionHead(benchmark::State& state) {
  const int64_t side = state.range(0), n = side * side, d = 64, ld = 3 * 768;
  const bool bias_on = state.range(1) != 0;
  const auto precision = state.range(2) != 0 ? kernels::Precision::kBF16 : kernels::Precision::kF32;
  std::vector<float> qkv(size_t(n * ld)), rh(size_t(n * side)), rw(size_t(n * side));
  for (size_t i = 0; i < qkv.size(); ++i) qkv[i] = float((i * 2654435761u) % 1000) * 1e-3f;
  const kernels::GridBias bias{rh.data(), rw.data(), side, side};
  std::vector<float> o(size_t(n * d)), scratch(size_t(kernels::attention_scratch_floats(n, d)));
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    kernels::attention_head(qkv.data(), ld, qkv.data() + 768, ld, qkv.data() + 1536, ld, n, n, d,
                            0.125f, bias_on ? &bias : nullptr, o.data(), d, scratch.data(),
                            precision);
    benchmark::DoNotOptimize(o.data());
  }
  const double gflop = 4.0 * double(n) * double(n) * double(d) * 1e-9;
  state.counters["GFLOP/cpu_s"] =
      gflop * double(state.iterations()) / (process_cpu_seconds() - cpu0);
}
BENCHMARK(BM_AttentionHead)
    ->ArgNames({"side", "bias", "bf16"})
    ->Args({64, 1, 0})  // SAM-B global block: 4096 keys
    ->Args({14, 1, 0})  // SAM-B window
    ->Args({24, 0, 0})  // SigLIP-L: 576 keys
    ->Args({64, 1, 1})
    ->Args({14, 1, 1})
    ->Args({24, 0, 1})
    ->Unit(benchmark::kMillisecond);

constexpr auto kF32 = kernels::Precision::kF32;
constexpr auto kBF16 = kernels::Precision::kBF16;
BENCHMARK_CAPTURE(BM_SiglipL384, f32, DType::kF32, kF32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SiglipL384, bf16w_f32, DType::kBF16, kF32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SiglipL384, bf16, DType::kBF16, kBF16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SamB1024, f32, DType::kF32, kF32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SamB1024, bf16w_f32, DType::kBF16, kF32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SamB1024, bf16, DType::kBF16, kBF16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace dsvl::vision
