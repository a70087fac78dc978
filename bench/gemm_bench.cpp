// GEMM speed on the model shapes: ours (float32 and bf16 paths) vs oneDNN (when built with
// it) vs a naive loop, in GFLOP/s and as a fraction of this machine's limits probed in the
// same run (kernels/cpu/probe.h). Small-M (decode) shapes rotate over ≥ 1 GiB of weight
// copies so the weights come from DRAM, and also report GB/s against the read bandwidth.
//
//   build/gemm_bench --benchmark_filter=576x2048x5632   (names: variant/shape/weight dtype)
// Counters: GFLOPs, pct_peak (of the fp32 or bf16 peak the variant uses), GBps and pct_bw
// (weight bytes streamed; decode shapes only).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/threadpool.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/probe.h"

#if defined(DSVL_HAVE_DNNL)
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

using dsvl::DType;
using dsvl::TensorView;
using dsvl::kernels::Precision;
using Clock = std::chrono::steady_clock;

struct Shape {
  int64_t M, K, N;
  std::string str() const {
    return std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N);
  }
};

const dsvl::kernels::MachineLimits& limits() {
  static const dsvl::kernels::MachineLimits m = [] {
    const auto l = dsvl::kernels::probe_machine(dsvl::num_threads());
    std::printf(
        "probe (%d threads): read %.1f GB/s, fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s (%s; "
        "vdpbf16ps %.0f, AMX %.0f)\n",
        dsvl::num_threads(), l.read_gbps, l.fp32_gflops, l.bf16_gflops, l.bf16_kernel,
        l.bf16_dot_gflops, l.amx_bf16_gflops);
    return l;
  }();
  return m;
}

// Weight copies: one for compute-bound shapes, ≥ 1 GiB worth for streaming ones.
struct Weights {
  std::vector<std::vector<uint16_t>> half;
  std::vector<std::vector<float>> f32;
  std::vector<TensorView> views;
};

Weights make_weights(const Shape& s, DType t) {
  const size_t n = size_t(s.N * s.K), bytes = n * (t == DType::kF32 ? 4 : 2);
  const size_t copies = s.M <= 8 ? std::max<size_t>(1, ((size_t(1) << 30) + bytes - 1) / bytes) : 1;
  Weights w;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> base(n);
  for (auto& v : base) v = nd(rng);
  for (size_t c = 0; c < copies; ++c) {
    if (t == DType::kF32) {
      w.f32.push_back(base);
      w.views.push_back(TensorView{t, {s.N, s.K}, w.f32.back().data()});
    } else {
      std::vector<uint16_t> h(n);
      for (size_t i = 0; i < n; ++i)
        h[i] = t == DType::kF16 ? dsvl::f32_to_f16(base[i]) : dsvl::f32_to_bf16(base[i]);
      w.half.push_back(std::move(h));
      w.views.push_back(TensorView{t, {s.N, s.K}, w.half.back().data()});
    }
  }
  return w;
}

std::vector<float> activations(const Shape& s) {
  std::vector<float> x(size_t(s.M * s.K));
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& v : x) v = nd(rng);
  return x;
}

// Runs `call(i)` timed and sets the counters; `peak` in GFLOP/s, `bytes` per call.
template <typename Call>
void run_timed(benchmark::State& st, const Shape& s, double peak, double bytes, Call&& call) {
  call(0);  // warm-up: scratch buffers, pool threads, primitive creation
  int64_t i = 0;
  const auto t0 = Clock::now();
  for (auto _ : st) call(++i);
  const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
  const double gflops = 2.0 * s.M * s.N * s.K * double(i) / sec / 1e9;
  st.counters["GFLOPs"] = gflops;
  st.counters["pct_peak"] = 100.0 * gflops / peak;
  if (s.M <= 8) {
    const double gbps = bytes * double(i) / sec / 1e9;
    st.counters["GBps"] = gbps;
    st.counters["pct_bw"] = 100.0 * gbps / limits().read_gbps;
  }
}

// The peak the bf16 path's kernel can reach (AMX, vdpbf16ps, or the float32 FMA peak where
// bf16 is emulated), or the float32 FMA peak.
double peak_for(Precision p) {
  return p == Precision::kF32 ? limits().fp32_gflops : limits().bf16_gflops;
}

void bm_ours(benchmark::State& st, Shape s, DType t, Precision p) {
  const Weights w = make_weights(s, t);
  const std::vector<float> x = activations(s);
  std::vector<float> y(size_t(s.M * s.N));
  const double peak = peak_for(p);
  run_timed(st, s, peak, double(w.views[0].nbytes()), [&](int64_t i) {
    dsvl::kernels::linear(x.data(), s.M, w.views[size_t(i) % w.views.size()], nullptr, y.data(), p);
  });
}

// BF16 weights repacked into panels, as the LLM holds them by default (WeightArena).
void bm_ours_repacked(benchmark::State& st, Shape s, Precision p) {
  const Weights w = make_weights(s, DType::kBF16);
  std::vector<dsvl::kernels::PackedWeight> packed;
  for (const TensorView& v : w.views) packed.push_back(dsvl::kernels::pack_bf16(v));
  const std::vector<float> x = activations(s);
  std::vector<float> y(size_t(s.M * s.N));
  run_timed(st, s, peak_for(p), double(w.views[0].nbytes()), [&](int64_t i) {
    dsvl::kernels::linear(x.data(), s.M, packed[size_t(i) % packed.size()].view(), nullptr,
                          y.data(), p);
  });
}

// The bf16 path forced onto AVX512_BF16 dot products (the kernel Zen 4/5 use).
void bm_ours_dot(benchmark::State& st, Shape s) {
  dsvl::kernels::detail::set_bf16_kernel(dsvl::kernels::detail::Bf16Kernel::kDot);
  bm_ours(st, s, DType::kBF16, Precision::kBF16);
  dsvl::kernels::detail::set_bf16_kernel(dsvl::kernels::detail::Bf16Kernel::kAuto);
}

// Naive single-threaded loop on up to 16 rows (the rate, not the shape, is what counts).
void bm_naive(benchmark::State& st, Shape s) {
  const Shape r{std::min<int64_t>(s.M, 16), s.K, s.N};
  const std::vector<float> x = activations(r);
  std::vector<float> w(size_t(r.N * r.K), 0.01f), y(size_t(r.M * r.N));
  run_timed(st, r, limits().fp32_gflops, double(w.size() * 4), [&](int64_t) {
    for (int64_t m = 0; m < r.M; ++m)
      for (int64_t n = 0; n < r.N; ++n) {
        float acc = 0;
        for (int64_t k = 0; k < r.K; ++k) acc += x[size_t(m * r.K + k)] * w[size_t(n * r.K + k)];
        y[size_t(m * r.N + n)] = acc;
      }
    benchmark::DoNotOptimize(y.data());
  });
}

// Read bandwidth at this point of the run (the host's bandwidth drifts), for the decode rows.
void bm_read_bw(benchmark::State& st) {
  double gbps = 0;
  for (auto _ : st) gbps = dsvl::kernels::probe_read_gbps(dsvl::num_threads());
  st.counters["GBps"] = gbps;
}

#if defined(DSVL_HAVE_DNNL)
// oneDNN matmul with weights reordered to its preferred layout (format_tag::any) outside the
// timing, as in perf-probes/gemm.cpp; bf16 activations are converted outside the timing too.
void bm_onednn(benchmark::State& st, Shape s, bool bf16) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const auto dt = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  const memory::desc src_md({s.M, s.K}, dt, memory::format_tag::ab);
  const memory::desc wany_md({s.K, s.N}, dt, memory::format_tag::any);
  const memory::desc dst_md({s.M, s.N}, memory::data_type::f32, memory::format_tag::ab);
  const matmul::primitive_desc pd(matmul::desc(src_md, wany_md, dst_md), eng);
  const matmul prim(pd);
  // Source weight: our [N, K] row-major is the K×N matrix in "ba" order.
  const Weights w = make_weights(s, bf16 ? DType::kBF16 : DType::kF32);
  std::vector<memory> wmem;
  for (const TensorView& v : w.views) {
    memory raw({{s.K, s.N}, dt, memory::format_tag::ba}, eng, const_cast<void*>(v.data));
    memory re(pd.weights_desc(), eng);
    reorder(raw, re).execute(strm, raw, re);
    wmem.push_back(re);
  }
  const std::vector<float> x = activations(s);
  memory src(src_md, eng), dst(dst_md, eng);
  if (bf16) {
    auto* p = static_cast<uint16_t*>(src.get_data_handle());
    for (size_t i = 0; i < x.size(); ++i) p[i] = dsvl::f32_to_bf16(x[i]);
  } else {
    std::memcpy(src.get_data_handle(), x.data(), x.size() * 4);
  }
  strm.wait();
  const double peak = bf16 ? limits().bf16_gflops : limits().fp32_gflops;
  run_timed(st, s, peak, double(w.views[0].nbytes()), [&](int64_t i) {
    prim.execute(strm, {{DNNL_ARG_SRC, src},
                        {DNNL_ARG_WEIGHTS, wmem[size_t(i) % wmem.size()]},
                        {DNNL_ARG_DST, dst}});
    strm.wait();
  });
}
#endif

const Shape kPrefill[] = {
    {576, 1024, 4096},   // SigLIP-L MLP fc1
    {576, 4096, 1024},   // SigLIP-L MLP fc2
    {576, 2048, 5632},   // 1.3B gate/up
    {576, 5632, 2048},   // 1.3B down
    {576, 2048, 2048},   // 1.3B q/k/v/o
    {4096, 768, 3072},   // SAM-B MLP (7B high-res tower, 64×64 tokens)
    {576, 4096, 11008},  // 7B gate/up
};
const Shape kDecode[] = {
    {1, 2048, 5632},  {1, 5632, 2048}, {1, 2048, 2048},
    {1, 4096, 11008}, {4, 2048, 5632}, {8, 2048, 5632},
};

int register_all() {
  const auto reg = [](const std::string& name, auto fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  for (const Shape& s : kPrefill) {
    reg("ours_f32/" + s.str() + "/bf16w", bm_ours, s, DType::kBF16, Precision::kF32);
    reg("ours_f32/" + s.str() + "/f32w", bm_ours, s, DType::kF32, Precision::kF32);
    reg("ours_bf16/" + s.str() + "/bf16w", bm_ours, s, DType::kBF16, Precision::kBF16);
    reg("ours_bf16_dot/" + s.str() + "/bf16w", bm_ours_dot, s);
#if defined(DSVL_HAVE_DNNL)
    reg("onednn_f32/" + s.str() + "/f32w", bm_onednn, s, false);
    reg("onednn_bf16/" + s.str() + "/bf16w", bm_onednn, s, true);
#endif
    reg("naive_f32/" + s.str() + "/f32w", bm_naive, s);
  }
  benchmark::RegisterBenchmark("read_bw/1GiB", bm_read_bw)->Iterations(1)->Unit(benchmark::kSecond);
  for (const Shape& s : kDecode) {
    reg("ours_f32/" + s.str() + "/bf16w", bm_ours, s, DType::kBF16, Precision::kF32);
    reg("ours_f32/" + s.str() + "/f16w", bm_ours, s, DType::kF16, Precision::kF32);
    reg("ours_f32/" + s.str() + "/f32w", bm_ours, s, DType::kF32, Precision::kF32);
    reg("ours_bf16/" + s.str() + "/bf16w", bm_ours, s, DType::kBF16, Precision::kBF16);
    reg("ours_f32/" + s.str() + "/bf16w_repacked", bm_ours_repacked, s, Precision::kF32);
    reg("ours_bf16/" + s.str() + "/bf16w_repacked", bm_ours_repacked, s, Precision::kBF16);
    reg("ours_bf16_dot/" + s.str() + "/bf16w", bm_ours_dot, s);
#if defined(DSVL_HAVE_DNNL)
    reg("onednn_f32/" + s.str() + "/f32w", bm_onednn, s, false);
    reg("onednn_bf16/" + s.str() + "/bf16w", bm_onednn, s, true);
#endif
  }
  return 0;
}

const int kRegistered = register_all();

}  // namespace
