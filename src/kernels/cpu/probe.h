// In-process measurement of this machine's limits, so speed figures can be reported as a
// fraction of what the hardware allows in the same run (`dsvl bench --probe`, gemm_bench).
// Methods follow ../shared/research/perf-probes: a read-only sum over ≥ 1 GiB for bandwidth,
// register-resident loops of independent FMA / vdpbf16ps / AMX tile products for the peaks.
// Takes about 1-2 s and allocates 1 GiB while it runs. Uses its own threads (not the pool).
#pragma once

namespace dsvl::kernels {

struct MachineLimits {
  double read_gbps = 0;          // memory read bandwidth, GB/s (10⁹ bytes), all threads
  double fp32_gflops = 0;        // float32 FMA peak, GFLOP/s (an FMA counts 2)
  double bf16_gflops = 0;        // peak of what the bf16 GEMM uses (AMX, vdpbf16ps, or FP32 FMA)
  double bf16_dot_gflops = 0;    // AVX512_BF16 vdpbf16ps peak (0 if the build lacks it)
  double amx_bf16_gflops = 0;    // AMX TDPBF16PS peak (0 without AMX)
  const char* bf16_kernel = "";  // kernels::bf16_kernel_name() at probe time
};

// Best of three runs of each probe on `threads` threads (≥ 1).
MachineLimits probe_machine(int threads);

// Only the read bandwidth (best of three passes over 1 GiB), GB/s.
double probe_read_gbps(int threads);

}  // namespace dsvl::kernels
