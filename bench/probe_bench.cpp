// This machine's limits (kernels/cpu/probe.h) as benchmark counters: memory read bandwidth
// (GB/s), float32 FMA, bf16 vdpbf16ps and AMX peaks (GFLOP/s), with 1 thread and with the
// pool's thread count. `dsvl bench --probe` reports the same figures beside its results.
#include <benchmark/benchmark.h>

#include "core/threadpool.h"
#include "kernels/cpu/probe.h"

namespace {

void bm_probe(benchmark::State& st) {
  const int threads = int(st.range(0));
  dsvl::kernels::MachineLimits m;
  for (auto _ : st) m = dsvl::kernels::probe_machine(threads);
  st.counters["read_GBps"] = m.read_gbps;
  st.counters["fp32_GFLOPs"] = m.fp32_gflops;
  st.counters["bf16_GFLOPs"] = m.bf16_gflops;
  st.counters["bf16_dot_GFLOPs"] = m.bf16_dot_gflops;
  st.counters["amx_GFLOPs"] = m.amx_bf16_gflops;
  st.SetLabel(std::string("bf16 kernel: ") + m.bf16_kernel);
}

BENCHMARK(bm_probe)
    ->Arg(1)
    ->Arg(dsvl::num_threads())
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
