// Internal pieces of the CPU GEMM engine shared by matmul.cpp, the float32 blocked GEMM, the
// small-M (decode) path and the bf16 kernels. Not for model code: call kernels/cpu/matmul.h.
//
// Every GEMM here computes C[M, N] (+)= A[M, K] · B[N, K]ᵀ, where B is a "weight-like"
// operand: N rows of K contiguous elements, row n at B.data + n·B.ld elements, in F32, F16 or
// BF16. A and C are float32 row-major with leading dimensions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/dtype.h"
#include "core/threadpool.h"

namespace dsvl::kernels::detail {

struct BMatrix {
  DType dtype = DType::kF32;
  const void* data = nullptr;
  int64_t ld = 0;       // elements between rows (with panels: K)
  bool panels = false;  // BF16 repacked into kNR-column panels (below), not rows
};

// What happens to C: kStore writes acc (+bias), kAccumulate adds acc to the existing C.
struct Epilogue {
  const float* bias = nullptr;  // [N] float32 or null
  bool accumulate = false;
};

// Panel width of the packed B operand (columns of C per microkernel): two zmm of floats.
constexpr int kNR = 32;

// Repacked weights (WeightArena with panels; TensorView::packed): the layout pack_b_bf16 writes,
// for the whole K at once, so the bf16 GEMMs read it as it is. Panel j holds columns
// [j·kNR, (j+1)·kNR) and starts at element j·panel_elems(K); in it, element (n, k) sits at
// (k/2)·2·kNR + 2·(n mod kNR) + (k mod 2). K is padded to a multiple of 32 and N to kNR, with
// zeros. A pair row (one k pair of 32 columns) is 128 contiguous bytes: two vdpbf16ps operands
// or half of two AMX B tile rows.
inline int64_t panel_k(int64_t K) { return (K + 31) / 32 * 32; }
inline int64_t panel_elems(int64_t K) { return panel_k(K) * kNR; }
inline uint16_t panel_at(const BMatrix& B, int64_t n, int64_t k) {
  return static_cast<const uint16_t*>(
      B.data)[n / kNR * panel_elems(B.ld) + k / 2 * 2 * kNR + 2 * (n % kNR) + k % 2];
}

// The small-M kernels' split of the work: fn(n0, n1) over [0, N) divided between the threads
// in whole kNR-column panels (each thread streams its own panels of a repacked weight), or
// on the caller's thread alone when `serial` (products too small to share).
template <typename Fn>
void split_panels(int64_t N, bool serial, Fn&& fn) {
  if (serial) return fn(int64_t(0), N);
  const int64_t units = (N + kNR - 1) / kNR;
  parallel_run([&](int t, int nt) {
    const int64_t b = std::min(N, units * t / nt * kNR),
                  e = std::min(N, units * (t + 1) / nt * kNR);
    if (b < e) fn(b, e);
  });
}

// Fetches the lines of a C tile (mr rows of 32 floats, ldc apart) for writing, before a
// microkernel's k loop: with K blocks, every later block re-reads C in the epilogue, from L3
// on a wide product, and 28 misses there stalled the core (f32 prefill +12%).
inline void prefetch_c_tile(float* C, int64_t ldc, int mr) {
  for (int i = 0; i < mr; ++i) {
    __builtin_prefetch(C + i * ldc, 1, 3);
    __builtin_prefetch(C + i * ldc + 31, 1, 3);
  }
}

// --- packing (gemm_pack.cpp) --------------------------------------------------------------
// Packs B rows [n0, n0+nr) (nr ≤ kNR) and columns [k0, k0+kc) as float32, k-major:
// dst[k·kNR + j] = B[n0+j, k0+k]; rows j ≥ nr are zero. F16/BF16 are widened exactly.
void pack_b_f32(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, float* dst);

// Packs B rows [n0, n0+nr) and columns [k0, k0+kc) as bf16 pairs ("VNNI" layout used by
// vdpbf16ps and AMX): dst[(k/2)·2·kNR + 2j + (k&1)] = bf16(B[n0+j, k0+k]). kc is rounded up
// to even and the padding, like rows j ≥ nr, is zero. F32/F16 are rounded to nearest even.
void pack_b_bf16(const BMatrix& B, int64_t n0, int nr, int64_t k0, int kc, uint16_t* dst);

// dst[i] = bf16_to_f32(f32_to_bf16(src[i])) for i < n (nearest even, NaN quieted); dst may be
// src.
void round_bf16_values(const float* src, int64_t n, float* dst);

// Row n of B (K elements) as bf16, rounded to nearest even from F32/F16.
void row_to_bf16(const BMatrix& B, int64_t n, int64_t K, uint16_t* dst);

// One whole panel: pack_b_bf16 of rows [n0, n0+nr) over all K, zero-padded to panel_elems(K).
void pack_panel(const BMatrix& B, int64_t n0, int nr, int64_t K, uint16_t* dst);
// Panels [p0, p1) of the repacked form of B ([N, K] rows, any float dtype) into dst, which
// holds the whole repacked weight (panel_elems(K) elements per panel, padding zeroed).
void pack_panels(const BMatrix& B, int64_t N, int64_t K, int64_t p0, int64_t p1, uint16_t* dst);

// Converts rows [0, m) of A (float32, row stride lda), columns [k0, k0+kc), to bf16 with row
// stride ldd; columns kc..ldd-1 of each row are zeroed (K padding for tile loads).
void convert_a_bf16(const float* A, int64_t lda, int64_t m, int64_t k0, int64_t kc, uint16_t* dst,
                    int64_t ldd);

// --- drivers --------------------------------------------------------------------------------
// Blocked float32 GEMM (gemm_f32.cpp, loop in gemm_driver.h): packed B panels, register-blocked
// microkernel, the threads taking work units in turn. Exact float32 products; order of
// summation differs.
void gemm_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
              int64_t N, int64_t K, const Epilogue& ep);
// The same with every A value rounded to bf16 (nearest even) first, as the blocked kernel packs
// A: the bf16 emulation's GEMM for M > kGemvMaxM (gemm_bf16.cpp).
void gemm_f32_round_a(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                      int64_t M, int64_t N, int64_t K, const Epilogue& ep);

// Row invariance: every kernel computes each C[m, n] with the same operations in the same
// order whatever M is and whichever rows share the call (the LLM checks that chunked prefill,
// decode and batched decode are bit-identical). The canonical order, per K block of kKC
// (blocks start at k = 0): acc = 0; acc = fma(a[k], b[k], acc) for k in order (bf16: one
// vdpbf16ps per k pair, AMX: the tile unit's order); then C = (acc + (first block ? bias : 0))
// (+ C when not the first block or when accumulating).
#if defined(__AVX512F__) || !(defined(__AVX2__) && defined(__FMA__))
constexpr int kKCf32 = 512;  // K block of the float32 path
#else
constexpr int kKCf32 = 256;  // AVX2 (Zen 3: 32 KB L1d, 512 KB L2): +5% over 512, measured
#endif
constexpr int kKCdot = 512;  // K block of the vdpbf16ps path (256 pairs)

// Small-M path (gemv.cpp), M ≤ kGemvMaxM: streams B once, widening and transposing 16×16
// blocks in registers (no packed copy), in the canonical order above, so results equal the
// blocked kernels' bit for bit. Falls back to the blocked kernels without AVX-512.
constexpr int64_t kGemvMaxM = 8;
void gemv_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
              int64_t N, int64_t K, const Epilogue& ep);
// The vdpbf16ps flavour (A rounded to bf16; F32/F16 rows of B rounded on the fly).
void gemv_bf16_dot(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep);

// bf16 GEMM for any M: A rounded to bf16, B as bf16, float32 accumulation (gemm_bf16.cpp).
// Uses AMX tiles when the CPU and kernel allow it (for every M, so results stay
// row-invariant), else AVX512_BF16 dot products (gemv_bf16_dot for M ≤ kGemvMaxM), else a
// float32 emulation with the same rounding.
void gemm_bf16(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
               int64_t N, int64_t K, const Epilogue& ep);
// AMX variant (gemm_amx.cpp); returns false (and does nothing) when AMX is unusable.
bool gemm_bf16_amx(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep);
// C = SiLU(A·gateᵀ) ⊙ (A·upᵀ) in one pass on AMX (A converted once, C written once), bit for bit
// what gemm_bf16 twice and silu_mul give. Returns false (and does nothing) unless AMX is
// usable and M > 16 (smaller M: the separate products stream the weights anyway).
bool gemm_bf16_amx_swiglu(const float* A, int64_t lda, const BMatrix& gate, const BMatrix& up,
                          float* C, int64_t ldc, int64_t M, int64_t N, int64_t K);
// AVX512_BF16 variant (vdpbf16ps); same contract, float32 emulation without the instruction.
void gemm_bf16_dot(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep);
// True when AMX tiles are compiled in, reported by CPUID and granted by the kernel
// (arch_prctl ARCH_REQ_XCOMP_PERM); checked once per process.
bool amx_usable();
// Loads the tile configuration the AMX kernels here use: tiles 0-7 all 16 rows × 64 bytes
// (float32 16×16 accumulators, bf16 16×32 operands), except that with rows < 16 the
// accumulators (0-3) and the A operand (4) have `rows` rows (small M). Only defined where AMX
// is compiled in; call it on the thread, before its tile instructions, and _tile_release() after.
void amx_load_tile_config(int rows = 16);

// Which bf16 kernel gemm_bf16 uses; kAuto picks AMX when usable. For tests and benchmarks
// (set before the calls, not concurrently with them). DSVL_BF16_KERNEL=amx|dot|emul in the
// environment sets the default.
enum class Bf16Kernel { kAuto, kAmx, kDot, kEmulated };
void set_bf16_kernel(Bf16Kernel k);
Bf16Kernel bf16_kernel();  // the one actually used after resolving kAuto

// C[M, N] = (accumulate ? C : 0) + bias, the whole result when K == 0.
void apply_empty_k(float* C, int64_t ldc, int64_t M, int64_t N, const Epilogue& ep);

// The AMX driver's static split: M rows (in units of `m_unit`) and N columns (in units of kNR)
// between nt threads; thread t gets rows [m0, m1) and columns [n0, n1) (possibly empty).
struct Range2D {
  int64_t m0, m1, n0, n1;
};
Range2D split_work(int64_t M, int64_t N, int64_t m_unit, int t, int nt);

// Per-thread scratch that grows and is reused (the hot path allocates only when a call needs
// more than any before it); the returned pointer is 64-byte aligned.
template <typename T>
T* scratch(std::vector<T>& buf, size_t n) {
  constexpr size_t kPad = 64 / sizeof(T);
  if (buf.size() < n + kPad) buf.resize(n + kPad);
  const auto p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<T*>((p + 63) & ~uintptr_t(63));
}

}  // namespace dsvl::kernels::detail
