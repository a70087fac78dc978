// bf16 GEMM on AMX tiles (Intel Sapphire Rapids and later), C (+)= bf16(A)·bf16(B)ᵀ.
//
// A is converted once to bf16 rows padded to 32 rows × 32 columns, so tiles load straight
// from it. Each thread owns a column range; it packs groups of B panels over the whole K
// (VNNI pairs, the layout of gemm_pack.cpp, sized to stay in L2) and runs a 32×32 block of C
// as 2×2 tiles of 16×16 float32 accumulators over the whole K: per 32 k, two A tiles, two B
// tiles, four TDPBF16PS. The sums go to a per-thread buffer once, and C is written from it,
// with bias, at the end. The MLP's gate and up weights can share one pass
// (gemm_bf16_amx_swiglu): their panels alternate in each group and C gets SiLU(gate)·up.
// Weights repacked at load (BMatrix::panels) are already in that panel layout: nothing is
// packed, and small M runs the same tile products on two panels at a time.
#include <algorithm>
#include <array>
#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vecmath.h"

#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define DSVL_HAVE_AMX 1
#endif

namespace dsvl::kernels::detail {

#if defined(DSVL_HAVE_AMX)
namespace {

constexpr int64_t kBlockBytes = 1 << 20;  // packed B per group: half of the 2 MB L2
// K block of the small-M kernels that convert weight rows on the fly (an L1-sized buffer).
// The blocked kernel runs the whole K per 32×32 block of C instead: its accumulators then
// stay in the tiles. Blocks of 256 k, which kept the A tiles' rows in L1 across the group's
// panels, parked and reloaded the four accumulator tiles every 8 k steps, and in the slow
// spells of the Emerald Rapids VM of sessions 18-19 a tile load costs about what a TDPBF16PS
// does (four tile products with their four operand loads from L1 ran at 430-450 GFLOP/s a
// thread, without the loads 940-990, with the accumulators parked every 8 steps 380-420; in
// its fast spells the loads overlap: 2180-2270 with them, 2210-2290 without). Whole K against 256,
// 2 threads, 30 alternating calls, repacked weights: medians +4% to +10% on 576×1024×3072,
// 576×4096×1024, 576×2048×2048, 576×2048×5632 and 576×5632×2048 (blocks of 512 in between).
constexpr int64_t kKC = 256;

// Tiles (amx_load_tile_config): 0-3 C (16×16 float32); 4-5 A (16 rows × 32 bf16); 6-7 B (16
// pairs × 16 columns).

// The blocked kernel fetches the panel kBlockStepsAhead k steps (4 × 2 KB) ahead into L1: its
// B tiles otherwise come from L2, and a tile load that misses stalls the next products, which
// wait for its tile. On the Emerald Rapids VM of session 19 (one thread, the variants
// alternating call by call, pairs compared, 576×{1024×3072, 2048×5632, 1024×4096}): when the
// host ran the tile unit at full rate, 0.98-1.05× (1 and 2 steps ahead: 0.92-1.03×); in its
// slow spells, where every tile load costs about a product, 1.01-1.3×.
constexpr int kBlockStepsAhead = 4;

// acc[32][32] = A[32 rows, Kp) · the panel's rows (Kp a multiple of 32); A rows are lda
// elements apart.
void tile_block(const uint16_t* A, int64_t lda, const uint16_t* Bp, int64_t Kp, float* acc) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const int64_t a_stride = lda * 2;
  for (int64_t k = 0; k < Kp; k += 32) {
    // Near the panel's end this fetches the first lines of the panel after it in memory: the
    // next block's, except after a group's last panel (the next row block starts the group
    // again) and with gate and up alternating (the same weight's next panel, two blocks on).
    const char* ahead = reinterpret_cast<const char*>(Bp + (k + 32 * kBlockStepsAhead) * kNR);
    for (int l = 0; l < 32 * kNR * 2; l += 64) _mm_prefetch(ahead + l, _MM_HINT_T0);
    _tile_loadd(4, A + k, a_stride);
    _tile_loadd(6, Bp + k * kNR, 4 * kNR);
    _tile_loadd(7, Bp + k * kNR + 32, 4 * kNR);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, A + 16 * lda + k, a_stride);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, acc, 4 * 32);
  _tile_stored(1, acc + 16, 4 * 32);
  _tile_stored(2, acc + 16 * 32, 4 * 32);
  _tile_stored(3, acc + 16 * 32 + 16, 4 * 32);
}

// The same for a block of at most 16 rows (small M): one A tile, two accumulators.
void tile_block16(const uint16_t* A, int64_t lda, const uint16_t* Bp, int64_t Kp, float* acc) {
  _tile_zero(0);
  _tile_zero(1);
  for (int64_t k = 0; k < Kp; k += 32) {
    _tile_loadd(4, A + k, lda * 2);
    _tile_loadd(6, Bp + k * kNR, 4 * kNR);
    _tile_loadd(7, Bp + k * kNR + 32, 4 * kNR);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
  }
  _tile_stored(0, acc, 4 * 32);
  _tile_stored(1, acc + 16, 4 * 32);
}

// C[mr rows, cols jc..jn) = acc (+ bias) (+ C when accumulating), where acc holds one 32×32
// block per kNR-column panel. Row by row, so each row's stores are one contiguous run (the
// hardware prefetchers then fetch C's lines ahead; per-panel order was ~25% slower at M=4096).
void store_group(const float* acc, int mr, int64_t cols, float* C, int64_t ldc, const float* bias,
                 bool accumulate) {
  for (int i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < cols; j += kNR) {
      const int nr = int(std::min<int64_t>(kNR, cols - j));
      const __mmask16 m0 = simd::mask16(nr), m1 = simd::mask16(nr - 16);
      const float* t = acc + j / kNR * 1024 + i * 32;
      __m512 v0 = _mm512_load_ps(t), v1 = _mm512_load_ps(t + 16);
      v0 = _mm512_add_ps(v0, bias ? _mm512_maskz_loadu_ps(m0, bias + j) : _mm512_setzero_ps());
      v1 = _mm512_add_ps(v1, bias ? _mm512_maskz_loadu_ps(m1, bias + j + 16) : _mm512_setzero_ps());
      if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c + j));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + j + 16));
      }
      _mm512_mask_storeu_ps(c + j, m0, v0);
      _mm512_mask_storeu_ps(c + j + 16, m1, v1);
    }
  }
}

// C[mr rows, cols] = SiLU(gate) ⊙ up, where acc holds the 32×32 blocks of each panel as a
// (gate, up) pair. Each factor is first made what the separate products would store (acc +
// 0, as store_group adds a missing bias), so the result equals linear, linear, silu_mul bit
// for bit.
void store_swiglu(const float* acc, int mr, int64_t cols, float* C, int64_t ldc) {
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < cols; j += kNR) {
      const int nr = int(std::min<int64_t>(kNR, cols - j));
      const float* g = acc + j / kNR * 2048 + i * 32;
      const float* u = g + 1024;
      for (int h = 0; h < 2; ++h) {
        const __m512 gv = _mm512_add_ps(_mm512_load_ps(g + 16 * h), zero);
        const __m512 uv = _mm512_add_ps(_mm512_load_ps(u + 16 * h), zero);
        _mm512_mask_storeu_ps(c + j + 16 * h, simd::mask16(nr - 16 * h),
                              _mm512_mul_ps(vecmath::silu16(gv), uv));
      }
    }
  }
}

// Reads one word of every 64-byte line of [p, p + bytes): the group's repacked panels come
// into the caches in order, as packing them did (without the writes), before the row blocks
// run, whose tile loads stall on every miss. Demand loads, because prefetches into L2 left
// ~5-15% of that (measured: none 1192-1540, T1 1255-1520, T2 1290-1652, loads 1321-1777
// GFLOP/s on 576×2048×5632 and 576×5632×2048 with cold weights).
void touch_lines(const void* p, int64_t bytes) {
  uint64_t acc = 0;
  for (int64_t l = 0; l < bytes; l += 64)
    acc |= *reinterpret_cast<const volatile uint64_t*>(static_cast<const char*>(p) + l);
  asm volatile("" : : "r"(acc));
}

// One thread's block r of C from the nb (1, or 2 for gate and up) weights in Bs: with nb = 2
// C = SiLU(A·Gᵀ) ⊙ (A·Uᵀ) (store_swiglu), their panels packed side by side in one group.
// Repacked weights (BMatrix::panels, all nb alike) are read where they are: nothing is packed.
void amx_range(const uint16_t* Abf, int64_t ldA, int64_t Kp, const BMatrix* Bs, int nb, float* C,
               int64_t ldc, const Range2D& r, int64_t K, const Epilogue& ep) {
  const int64_t panel = Kp * kNR;  // bf16 elements per packed panel (= panel_elems(K))
  const int64_t group = std::clamp<int64_t>(kBlockBytes / (panel * 2 * nb), 1, 16);
  const bool repacked = Bs[0].panels;
  thread_local std::vector<uint16_t> bbuf;
  thread_local std::vector<float> tbuf;
  uint16_t* Bp = repacked ? nullptr : scratch(bbuf, size_t(group * nb * panel));
  float* acc = scratch(tbuf, size_t(group * nb * 32 * 32));
  const uint16_t* src[32];  // slot s's panel (group·nb ≤ 32)
  amx_load_tile_config();
  for (int64_t jc = r.n0; jc < r.n1; jc += group * kNR) {
    const int64_t jn = std::min(r.n1, jc + group * kNR);
    // Slot s holds columns from jc + (s / nb)·kNR of weight s % nb.
    const int64_t slots = (jn - jc + kNR - 1) / kNR * nb;
    for (int64_t s = 0; s < slots; ++s) {
      const int64_t j = jc + s / nb * kNR;
      if (repacked) {
        src[s] = static_cast<const uint16_t*>(Bs[s % nb].data) + j / kNR * panel;
        touch_lines(src[s], panel * 2);
        continue;
      }
      src[s] = Bp + s * panel;
      pack_panel(Bs[s % nb], j, int(std::min<int64_t>(kNR, jn - j)), K, Bp + s * panel);
    }
    for (int64_t i0 = r.m0; i0 < r.m1; i0 += 32) {
      const int mr = int(std::min<int64_t>(32, r.m1 - i0));
      const auto block = mr <= 16 ? tile_block16 : tile_block;
      for (int64_t s = 0; s < slots; ++s) block(Abf + i0 * ldA, ldA, src[s], Kp, acc + s * 1024);
      if (nb == 2)
        store_swiglu(acc, mr, jn - jc, C + i0 * ldc + jc, ldc);
      else
        store_group(acc, mr, jn - jc, C + i0 * ldc + jc, ldc, ep.bias ? ep.bias + jc : nullptr,
                    ep.accumulate);
    }
  }
  _tile_release();
}

// M > 16: A converted once to bf16 rows padded to 32 × 32, then each thread's block of C.
void amx_blocked(const float* A, int64_t lda, const BMatrix* Bs, int nb, float* C, int64_t ldc,
                 int64_t M, int64_t N, int64_t K, const Epilogue& ep) {
  const int64_t Mp = (M + 31) / 32 * 32, Kp = (K + 31) / 32 * 32;
  thread_local std::vector<uint16_t> abuf;
  const int64_t ldA = Kp + 32;  // +64 bytes: rows 4 KB apart would share L1 sets
  uint16_t* Abf = scratch(abuf, size_t(Mp * ldA));
  parallel_for(
      Mp,
      [&](int64_t b, int64_t e) {
        const int64_t valid = std::max<int64_t>(0, std::min(e, M) - b);
        if (valid > 0) convert_a_bf16(A + b * lda, lda, valid, 0, K, Abf + b * ldA, ldA);
        if (b + valid < e)
          std::memset(Abf + (b + valid) * ldA, 0, size_t((e - b - valid) * ldA) * 2);
      },
      64);
  parallel_run([&](int t, int nt) {
    const Range2D r = split_work(M, N, 32, t, nt);
    if (r.m0 < r.m1 && r.n0 < r.n1) amx_range(Abf, ldA, Kp, Bs, nb, C, ldc, r, K, ep);
  });
}

// --- small M (decode): the roles swapped -------------------------------------------------
// For M ≤ 16, Cᵀ = B·Aᵀ: weight rows are the tiles' "A" operand, loaded straight from the
// checkpoint (BF16, K a multiple of 32) or from a bf16 copy of 32 rows (other dtypes, tails),
// and the activations, in pairs, are the "B" operand. Nothing is packed, so decode streams
// the weights once. Each C element still sees the same pair products in the same k order as
// in the blocked kernel above (tile products are symmetric in their operands), so results
// stay bit-identical across M; RowInvariance tests check it.

// Xv[p·16 + m] = bf16 pair (A[m, 2p], A[m, 2p+1]), rows m ≥ M and k ≥ K zero.
void pack_x_pairs(const float* A, int64_t lda, int64_t M, int64_t K, int64_t Kp, uint32_t* Xv) {
  std::memset(Xv, 0, size_t(Kp / 2 * 16) * 4);
  thread_local std::vector<uint16_t> row;
  uint16_t* r = scratch(row, size_t(Kp));
  for (int64_t m = 0; m < M; ++m) {
    convert_a_bf16(A + m * lda, lda, 1, 0, K, r, Kp);
    for (int64_t p = 0; p < Kp / 2; ++p)
      Xv[p * 16 + m] = uint32_t(r[2 * p]) | uint32_t(r[2 * p + 1]) << 16;
  }
}

// Weight rows [n0, n0+32) (rows ≥ N zero), columns [k0, k0+kc), as bf16 into dst (row stride
// kKC, zero-padded past K): the on-the-fly path for F16/F32 weights and K tails.
void weight_chunk_bf16(const BMatrix& B, int64_t n0, int64_t N, int64_t k0, int64_t K,
                       uint16_t* dst) {
  const int64_t kc = std::max<int64_t>(0, std::min(kKC, K - k0));
  const char* base = static_cast<const char*>(B.data) + k0 * int64_t(dtype_size(B.dtype));
  const BMatrix shifted{B.dtype, base, B.ld};
  for (int64_t j = 0; j < 32; ++j) {
    uint16_t* d = dst + j * kKC;
    if (n0 + j < N) row_to_bf16(shifted, n0 + j, kc, d);
    std::memset(d + (n0 + j < N ? kc : 0), 0, size_t(kKC - (n0 + j < N ? kc : 0)) * 2);
  }
}

// tmp[32 n][16 m] = W[32 rows, Kp] · Xvᵀ. W rows come straight from the checkpoint when
// `direct`, else converted kKC columns at a time into an L1-sized buffer.
void tile_block_t(const BMatrix& B, int64_t n0, int64_t N, int64_t K, int64_t Kp, bool direct,
                  const uint32_t* Xv, uint16_t* wbuf, float* tmp) {
  _tile_zero(0);
  _tile_zero(1);
  for (int64_t kb = 0; kb < Kp; kb += kKC) {
    const uint16_t* W;
    int64_t ldw, off;
    if (direct) {
      W = static_cast<const uint16_t*>(B.data) + n0 * B.ld;
      ldw = B.ld;
      off = kb;
    } else {
      weight_chunk_bf16(B, n0, N, kb, K, wbuf);
      W = wbuf;
      ldw = kKC;
      off = 0;
    }
    for (int64_t k = kb; k < std::min(Kp, kb + kKC); k += 32) {
      _tile_loadd(6, Xv + k / 2 * 16, 64);
      _tile_loadd(4, W + off + (k - kb), ldw * 2);
      _tile_loadd(5, W + 16 * ldw + off + (k - kb), ldw * 2);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 5, 6);
    }
  }
  _tile_stored(0, tmp, 64);
  _tile_stored(1, tmp + 16 * 16, 64);
}

// C[m, n0+j] = tmp[j][m] + bias (+ C), the same operations as store_group.
void store_block_t(const float* tmp, int64_t M, int rows, float* C, int64_t ldc, int64_t n0,
                   const Epilogue& ep) {
  for (int64_t m = 0; m < M; ++m)
    for (int j = 0; j < rows; ++j) {
      float v = tmp[j * 16 + m] + (ep.bias ? ep.bias[n0 + j] : 0.0f);
      if (ep.accumulate) v = v + C[m * ldc + n0 + j];
      C[m * ldc + n0 + j] = v;
    }
}

void amx_small_m(const uint32_t* Xv, int64_t M, const BMatrix& B, float* C, int64_t ldc, int64_t n0,
                 int64_t n1, int64_t N, int64_t K, int64_t Kp, const Epilogue& ep) {
  thread_local std::vector<uint16_t> wbuf;
  thread_local std::vector<float> tbuf;
  float* tmp = scratch(tbuf, 32 * 16);
  uint16_t* w = scratch(wbuf, size_t(32 * kKC));
  const bool direct_dtype = B.dtype == DType::kBF16 && K % 32 == 0;
  amx_load_tile_config();
  for (int64_t n = n0; n < n1; n += 32) {
    tile_block_t(B, n, N, K, Kp, direct_dtype && n + 32 <= N, Xv, w, tmp);
    store_block_t(tmp, M, int(std::min<int64_t>(32, n1 - n)), C, ldc, n, ep);
  }
  _tile_release();
}

constexpr int kPanelStepsAhead = 1, kPanelStepsAheadL2 = 4;

// acc (two 32×32 blocks) = A[M rows, Kp) · two adjacent panels at Bp, M ≤ 16 the configured
// tile rows: tile_block16's products for both, so the weights stream as two sequences (one
// stream per thread reached only ~75% of the read bandwidth here). Tiles 5-7 take the B
// operands in turn.
void tile_block16x2(const uint16_t* A, int64_t lda, const uint16_t* Bp, int64_t Kp, float* acc) {
  const uint16_t* Bq = Bp + Kp * kNR;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t k = 0; k < Kp; k += 32) {
    // Tile loads that miss stall the tile unit: fetch both streams kPanelStepsAhead k steps (2 KB)
    // ahead into L1 and kPanelStepsAheadL2 steps ahead into L2. Measured, 2 threads, cold 23
    // MB weights (noisy VM): none 22.6-23.5 GB/s, 1-4 steps 24.6-28.7, 6-8 steps 22.4-24.9;
    // into L2 (T1) instead 23.1-26.6. On an Emerald Rapids VM (session 16, 40 × 23 MB, 15
    // alternating runs, with one-row tiles): L1 at 2 steps alone 19.2-20.4 GB/s, L1 at 1 and
    // L2 at 4 steps 22.0, L2 at 8 21.0-21.9, L2 at 16 20.1 (vdpbf16ps 22.1-22.3).
    const char* pa = reinterpret_cast<const char*>(Bp + (k + 32 * kPanelStepsAhead) * kNR);
    const char* pb = reinterpret_cast<const char*>(Bq + (k + 32 * kPanelStepsAhead) * kNR);
    const char* qa = reinterpret_cast<const char*>(Bp + (k + 32 * kPanelStepsAheadL2) * kNR);
    const char* qb = reinterpret_cast<const char*>(Bq + (k + 32 * kPanelStepsAheadL2) * kNR);
    for (int l = 0; l < 32 * 64; l += 64) {
      _mm_prefetch(pa + l, _MM_HINT_T0);
      _mm_prefetch(pb + l, _MM_HINT_T0);
      _mm_prefetch(qa + l, _MM_HINT_T1);
      _mm_prefetch(qb + l, _MM_HINT_T1);
    }
    _tile_loadd(4, A + k, lda * 2);
    _tile_loadd(5, Bp + k * kNR, 4 * kNR);
    _tile_loadd(6, Bp + k * kNR + 32, 4 * kNR);
    _tile_dpbf16ps(0, 4, 5);
    _tile_dpbf16ps(1, 4, 6);
    _tile_loadd(7, Bq + k * kNR, 4 * kNR);
    _tile_dpbf16ps(2, 4, 7);
    _tile_loadd(5, Bq + k * kNR + 32, 4 * kNR);
    _tile_dpbf16ps(3, 4, 5);
  }
  _tile_stored(0, acc, 4 * 32);
  _tile_stored(1, acc + 16, 4 * 32);
  _tile_stored(2, acc + 1024, 4 * 32);
  _tile_stored(3, acc + 1024 + 16, 4 * 32);
}

// Small-M products too small to share between threads (split_panels runs them on the caller's).
bool serial_small_m(int64_t M, int64_t N, int64_t K) { return M * N * K < (int64_t(1) << 18); }

// Small M on repacked weights: the blocked kernel's own tile products (A's M rows times each
// panel's B tiles), two panels at a time, so no operand is packed per call.
void amx_small_m_panels(const uint16_t* Abf, int64_t ldA, int64_t M, const BMatrix& B, float* C,
                        int64_t ldc, int64_t n0, int64_t n1, int64_t Kp, const Epilogue& ep) {
  thread_local std::vector<float> tbuf;
  float* acc = scratch(tbuf, 2 * 32 * 32);
  const auto* P = static_cast<const uint16_t*>(B.data);
  // Accumulator and A tiles of M rows: the tile unit then works on M rows instead of 16 (each
  // row's products are the same, so the bits are too). With 16 rows M = 1 read 18.5-19.3 GB/s
  // against 19.2-20.4 (one row, same prefetches), on the Emerald Rapids VM of session 16.
  amx_load_tile_config(int(M));
  for (int64_t n = n0; n < n1; n += 2 * kNR) {
    const uint16_t* panel = P + n / kNR * Kp * kNR;
    if (n + kNR < n1)
      tile_block16x2(Abf, ldA, panel, Kp, acc);
    else
      tile_block16(Abf, ldA, panel, Kp, acc);
    store_group(acc, int(M), std::min<int64_t>(2 * kNR, n1 - n), C + n, ldc,
                ep.bias ? ep.bias + n : nullptr, ep.accumulate);
  }
  _tile_release();
}

}  // namespace

namespace {
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Every tile 16 rows × 64 bytes, except the accumulators (0-3) and A (4) with `rows` rows.
constexpr TileConfig make_tile_config(int rows) {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.rows[t] = uint8_t(t <= 4 ? rows : 16);
    c.colsb[t] = 64;
  }
  return c;
}

// Entry r - 1 has `rows` = r.
constexpr std::array<TileConfig, 16> make_tile_configs() {
  std::array<TileConfig, 16> a{};
  for (int r = 1; r <= 16; ++r) a[size_t(r - 1)] = make_tile_config(r);
  return a;
}
}  // namespace

void amx_load_tile_config(int rows) {
  // Constants in memory, not a local: GCC's _tile_loadconfig tells the compiler it reads
  // only 8 bytes, so the stores filling a local config can be optimized away (they were, once
  // this function stopped being inlined: ldtilecfg then faulted on a half-written config).
  static constexpr auto kConfigs = make_tile_configs();
  _tile_loadconfig(&kConfigs[size_t(std::clamp(rows, 1, 16) - 1)]);
}

bool amx_usable() {
  static const bool ok = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    if (!((d >> 22) & 1u) || !((d >> 24) & 1u)) return false;  // AMX-BF16, AMX-TILE
    // Linux hands out the 8 KB tile state only on request (ARCH_REQ_XCOMP_PERM, XTILEDATA).
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
  }();
  return ok;
}

bool gemm_bf16_amx(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep) {
  if (!amx_usable()) return false;
  if (M <= 0 || N <= 0) return true;
  if (K <= 0) {
    apply_empty_k(C, ldc, M, N, ep);
    return true;
  }
  if (M <= 16 && B.panels) {
    const int64_t Kp = panel_k(K), ldA = Kp + 32;
    // The tiles have M rows (amx_small_m_panels), so only A's M rows are converted and read.
    thread_local std::vector<uint16_t> abuf;
    uint16_t* Abf = scratch(abuf, size_t(16 * ldA));
    convert_a_bf16(A, lda, M, 0, K, Abf, ldA);
    split_panels(N, serial_small_m(M, N, K), [&](int64_t b, int64_t e) {
      amx_small_m_panels(Abf, ldA, M, B, C, ldc, b, e, Kp, ep);
    });
    return true;
  }
  if (M <= 16) {
    const int64_t Kp = (K + 31) / 32 * 32;
    thread_local std::vector<uint32_t> xbuf;
    uint32_t* Xv = scratch(xbuf, size_t(Kp / 2 * 16));
    pack_x_pairs(A, lda, M, K, Kp, Xv);
    split_panels(N, serial_small_m(M, N, K),
                 [&](int64_t b, int64_t e) { amx_small_m(Xv, M, B, C, ldc, b, e, N, K, Kp, ep); });
    return true;
  }
  amx_blocked(A, lda, &B, 1, C, ldc, M, N, K, ep);
  return true;
}

bool gemm_bf16_amx_swiglu(const float* A, int64_t lda, const BMatrix& gate, const BMatrix& up,
                          float* C, int64_t ldc, int64_t M, int64_t N, int64_t K) {
  if (!amx_usable() || M <= 16 || N <= 0 || K <= 0 || gate.panels != up.panels) return false;
  const BMatrix Bs[2] = {gate, up};
  amx_blocked(A, lda, Bs, 2, C, ldc, M, N, K, Epilogue{});
  return true;
}

#else

bool amx_usable() { return false; }

bool gemm_bf16_amx(const float*, int64_t, const BMatrix&, float*, int64_t, int64_t, int64_t,
                   int64_t, const Epilogue&) {
  return false;
}

bool gemm_bf16_amx_swiglu(const float*, int64_t, const BMatrix&, const BMatrix&, float*, int64_t,
                          int64_t, int64_t, int64_t) {
  return false;
}

#endif

}  // namespace dsvl::kernels::detail
