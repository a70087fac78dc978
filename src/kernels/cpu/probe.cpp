// Machine-limit probes (see probe.h). Each probe runs `threads` std::threads released together
// by a spin barrier and is timed from release to the last thread's end, best of three.
#include "kernels/cpu/probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/simd.h"

namespace dsvl::kernels {
namespace {

using Clock = std::chrono::steady_clock;

// Runs fn(t) on n threads started together; returns the wall seconds of the slowest.
template <typename Fn>
double timed_parallel(int n, Fn&& fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      fn(t);
    });
  while (ready.load() < n - 1) {
  }
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  fn(0);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <typename Fn>
double best_of_3(Fn&& once) {
  double best = 0;
  for (int r = 0; r < 3; ++r) best = std::max(best, once());
  return best;
}

// Keeps results alive so the loops are not optimized away.
std::atomic<float> g_sink{0};

#if defined(__AVX512F__)

constexpr long kFmaIters = 20'000'000;  // ×16 FMAs × 32 flops ≈ 10 GFLOP per thread

float fma_loop() {
  __m512 acc[16];
  __m512 x = _mm512_set1_ps(1.0000001f);
  const __m512 y = _mm512_set1_ps(0.9999999f);
  for (int j = 0; j < 16; ++j) acc[j] = _mm512_set1_ps(float(j));
  for (long i = 0; i < kFmaIters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(x, acc[j], y);
    __asm__ volatile("" : "+v"(x));  // x is "unknown" each round: no hoisting
  }
  for (int j = 1; j < 16; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  return simd::hsum(acc[0]);
}

#if defined(__AVX512BF16__)
float dot_loop() {
  __m512 acc[16];
  __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80);
  const __m512bh y = (__m512bh)_mm512_set1_epi16(0x3f81);
  for (int j = 0; j < 16; ++j) acc[j] = _mm512_set1_ps(float(j));
  for (long i = 0; i < kFmaIters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], x, y);
    __asm__ volatile("" : "+v"(x));
  }
  for (int j = 1; j < 16; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  return simd::hsum(acc[0]);
}
#endif

#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
constexpr long kAmxIters = 1'000'000;  // ×6 tile products × 16384 flops ≈ 98 GFLOP

// Six independent accumulator tiles fed by one A and one B tile: the tile unit's throughput
// without load traffic (our GEMM keeps four accumulators plus loads, so it stays below).
float amx_loop() {
  struct alignas(64) Config {
    uint8_t palette = 1, start = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  alignas(64) uint16_t ab[16 * 32];
  for (auto& v : ab) v = 0x3f80;
  alignas(64) float out[16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_zero(4);
  _tile_zero(5);
  _tile_loadd(6, ab, 64);
  _tile_loadd(7, ab, 64);
  for (long i = 0; i < kAmxIters; ++i) {
    _tile_dpbf16ps(0, 6, 7);
    _tile_dpbf16ps(1, 6, 7);
    _tile_dpbf16ps(2, 6, 7);
    _tile_dpbf16ps(3, 6, 7);
    _tile_dpbf16ps(4, 6, 7);
    _tile_dpbf16ps(5, 6, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  return out[0];
}
#endif

// Sum of floats [b, e) with four independent accumulators (bandwidth-, not latency-bound).
float read_sum(const float* p, size_t b, size_t e) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = b; i + 64 <= e; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 48));
  }
  return simd::hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

#elif defined(__AVX2__) && defined(__FMA__)

constexpr long kFmaIters = 40'000'000;  // ×12 FMAs × 16 flops ≈ 7.7 GFLOP per thread

// 12 independent ymm chains: enough to cover the FMA latency of two pipes (Zen 3: 4 cycles).
float fma_loop() {
  __m256 acc[12];
  __m256 x = _mm256_set1_ps(1.0000001f);
  const __m256 y = _mm256_set1_ps(0.9999999f);
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(float(j));
  for (long i = 0; i < kFmaIters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(x, acc[j], y);
    __asm__ volatile("" : "+x"(x));
  }
  for (int j = 1; j < 12; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  return simd::hsum(acc[0]);
}

float read_sum(const float* p, size_t b, size_t e) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = b; i + 32 <= e; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
  }
  return simd::hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

#else

float read_sum(const float* p, size_t b, size_t e) {
  float s = 0;
  for (size_t i = b; i < e; ++i) s += p[i];
  return s;
}

#endif

// Best of `passes` timed reads of a 1 GiB buffer (allocated, first touched and freed here).
double read_bandwidth(int threads, int passes) {
  constexpr size_t kBytes = size_t(1) << 30;
  constexpr size_t n = kBytes / sizeof(float);
  std::unique_ptr<float, decltype(&std::free)> buf(
      static_cast<float*>(std::aligned_alloc(64, kBytes)), &std::free);
  if (!buf) return 0;
  float* p = buf.get();
  // Each thread's chunk, 64-float aligned; first touch by its reader (NUMA placement).
  const auto chunk = [&](int t, size_t& b, size_t& e) {
    b = n / size_t(threads) * size_t(t) / 64 * 64;
    e = t + 1 == threads ? n : n / size_t(threads) * size_t(t + 1) / 64 * 64;
  };
  timed_parallel(threads, [&](int t) {
    size_t b, e;
    chunk(t, b, e);
    std::fill(p + b, p + e, 1.0f);
  });
  double best = 0;
  for (int r = 0; r < passes; ++r) {
    const double s = timed_parallel(threads, [&](int t) {
      size_t b, e;
      chunk(t, b, e);
      g_sink = g_sink + read_sum(p, b, e);
    });
    best = std::max(best, double(kBytes) / s / 1e9);
  }
  return best;
}

// One timed run of each compute loop on `threads` threads, GFLOP/s (0 where the build or the
// CPU lacks the instructions).
double fp32_once([[maybe_unused]] int threads) {
#if defined(__AVX512F__)
  const double flop = 32.0 * 16 * kFmaIters * threads;
  return flop / timed_parallel(threads, [](int) { g_sink = g_sink + fma_loop(); }) / 1e9;
#elif defined(__AVX2__) && defined(__FMA__)
  const double flop = 16.0 * 12 * kFmaIters * threads;
  return flop / timed_parallel(threads, [](int) { g_sink = g_sink + fma_loop(); }) / 1e9;
#else
  return 0;
#endif
}

double dot_once([[maybe_unused]] int threads) {
#if defined(__AVX512F__) && defined(__AVX512BF16__)
  const double flop = 2 * 32.0 * 16 * kFmaIters * threads;
  return flop / timed_parallel(threads, [](int) { g_sink = g_sink + dot_loop(); }) / 1e9;
#else
  return 0;
#endif
}

double amx_once([[maybe_unused]] int threads) {
#if defined(__AVX512F__) && defined(__AMX_TILE__) && defined(__AMX_BF16__)
  if (!detail::amx_usable()) return 0;
  const double flop = 6.0 * 16 * 16 * 32 * 2 * kAmxIters * threads;
  return flop / timed_parallel(threads, [](int) { g_sink = g_sink + amx_loop(); }) / 1e9;
#else
  return 0;
#endif
}

// Of the FP32 FMA, vdpbf16ps and AMX figures (or loops), the one of what the bf16 GEMMs run on
// (kernels::bf16_kernel_name(); the emulated kernel runs on FP32 FMAs).
template <typename T>
T of_bf16_kernel(T fp32, T dot, T amx) {
  const char* k = bf16_kernel_name();
  return std::strcmp(k, "amx") == 0 ? amx : std::strcmp(k, "avx512_bf16") == 0 ? dot : fp32;
}

// The peak of what the bf16 GEMMs run on, one run.
double bf16_once(int threads) { return of_bf16_kernel(fp32_once, dot_once, amx_once)(threads); }

}  // namespace

double probe_read_gbps(int threads) { return read_bandwidth(std::max(1, threads), 3); }

double sample_read_gbps(int threads) { return read_bandwidth(std::max(1, threads), 2); }

MachineLimits probe_machine(int threads) {
  threads = std::max(1, threads);
  MachineLimits m;
  m.read_gbps = read_bandwidth(threads, 3);
  m.fp32_gflops = best_of_3([&] { return fp32_once(threads); });
  m.bf16_dot_gflops = best_of_3([&] { return dot_once(threads); });
  m.amx_bf16_gflops = best_of_3([&] { return amx_once(threads); });
  m.bf16_kernel = bf16_kernel_name();
  m.bf16_gflops = of_bf16_kernel(m.fp32_gflops, m.bf16_dot_gflops, m.amx_bf16_gflops);
  return m;
}

double sample_peak_gflops(int threads, bool bf16) {
  threads = std::max(1, threads);
  const auto once = [&] { return bf16 ? bf16_once(threads) : fp32_once(threads); };
  return std::max(once(), once());
}

}  // namespace dsvl::kernels
