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

// One sample of the compute peak a row is compared with, taken beside a timed run: the FP32
// FMA loop (bf16 = false) or the loop of what the bf16 GEMMs run on (AMX tiles, vdpbf16ps, or
// FP32 FMAs), best of two runs of about 0.05-0.1 s each on `threads` threads, GFLOP/s. On a
// shared VM the compute peaks move by up to 2x from one minute to the next (the FP32 FMA loop
// read 137 and 300 GFLOP/s within one `dsvl bench` run), so a peak probed once after the tests
// says little about the minutes the tests ran in.
double sample_peak_gflops(int threads, bool bf16);

// Only the read bandwidth (best of three passes over 1 GiB), GB/s.
double probe_read_gbps(int threads);

// One sample of the read bandwidth beside a timed run: best of two passes over 1 GiB, which it
// allocates, first touches and frees (about 0.3-0.5 s), GB/s.
double sample_read_gbps(int threads);

}  // namespace dsvl::kernels
