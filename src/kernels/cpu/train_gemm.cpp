#include "kernels/cpu/train_gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/cpu/gemm_profile.h"
#include "kernels/cpu/simd.h"

namespace dsvl::kernels {
namespace {

// Micro-tile: kMr rows of C × kNr columns (two 16-float vectors). 28 accumulators + 2 B
// vectors + the broadcast A value fit the 32 zmm registers; A values are broadcast from the
// packed panel (16 loads per 28 FMAs, within the two load ports' budget).
constexpr int kMr = 14;
constexpr int kNr = 32;
// Cache blocking (measured on the step's shapes, 1 thread: kKc 384 beat 256 and 512): a
// kKc×kNr B micro-panel (48 KB) is reused from L1/L2 by every A micro-panel of the kMc×kKc
// A block (344 KB, L2); the kKc×kNc B block (1.2 MB) stays in the 2 MB L2 across the A
// blocks. Fewer, longer K blocks also mean fewer read-modify-write passes over C.
constexpr int64_t kKc = 384;
constexpr int64_t kMc = kMr * 16;
constexpr int64_t kNc = kNr * 24;

inline float load_elem(const MatRef& m, int64_t off) {
  switch (m.dtype) {
    case DType::kF32:
      return static_cast<const float*>(m.data)[off];
    case DType::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(m.data)[off]);
    default:
      return bf16_to_f32(static_cast<const uint16_t*>(m.data)[off]);
  }
}

#if defined(__AVX512F__)
// 16 elements of a D-typed operand from element offset `off`, widened to float32 (lanes
// outside m are zero and never read).
template <DType D>
inline __m512 load16(const void* base, int64_t off, __mmask16 m) {
  if constexpr (D == DType::kF32)
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + off);
  if constexpr (D == DType::kF16)
    return simd::load_f16(static_cast<const uint16_t*>(base) + off, m);
  return simd::load_bf16(static_cast<const uint16_t*>(base) + off, m);
}

// One panel (pr ≤ P valid rows from r0, columns c0..c0+cols) when the rows are contiguous
// (rs == 1): per column a masked vector copy of the P values, zero-padded.
template <int P, DType D>
void pack_rows_contig(const MatRef& m, int64_t r0, int pr, int64_t c0, int64_t cols, float* d) {
  for (int64_t c = 0; c < cols; ++c) {
    const int64_t off = (c0 + c) * m.cs + r0;
    for (int g = 0; g < P; g += 16)
      _mm512_mask_storeu_ps(d + c * P + g, simd::mask16(P - g),
                            load16<D>(m.data, off + g, simd::mask16(pr - g)));
  }
}

// One panel when the columns are contiguous (cs == 1): 16 rows × 16 columns are loaded and
// transposed in registers, so both the reads and the writes stay vectorised.
template <int P, DType D>
void pack_cols_contig(const MatRef& m, int64_t r0, int pr, int64_t c0, int64_t cols, float* d) {
  for (int g = 0; g < P; g += 16) {
    const int valid = std::clamp(pr - g, 0, 16);
    const __mmask16 lanes = simd::mask16(P - g);
    for (int64_t c = 0; c < cols; c += 16) {
      const int kt = int(std::min<int64_t>(16, cols - c));
      const __mmask16 km = simd::mask16(kt);
      __m512 r[16];
      for (int j = 0; j < 16; ++j)
        r[j] =
            j < valid ? load16<D>(m.data, (r0 + g + j) * m.rs + c0 + c, km) : _mm512_setzero_ps();
      simd::transpose16x16(r);
      for (int k = 0; k < kt; ++k) _mm512_mask_storeu_ps(d + (c + k) * P + g, lanes, r[k]);
    }
  }
}

template <int P, DType D>
void pack_panel_vec(const MatRef& m, int64_t r0, int pr, int64_t c0, int64_t cols, float* d) {
  if (m.rs == 1)
    pack_rows_contig<P, D>(m, r0, pr, c0, cols, d);
  else
    pack_cols_contig<P, D>(m, r0, pr, c0, cols, d);
}
#endif

// Packs the block (r0.., c0..) of size rows×cols of `m` into dst laid out as
// [rows/P panels][cols][P] (P = panel width along rows), zero-padding rows up to P.
// B is packed through its transpose, so its panels run along columns.
template <int P>
void pack(const MatRef& m, int64_t r0, int64_t rows, int64_t c0, int64_t cols, float* dst) {
  for (int64_t p = 0; p < rows; p += P) {
    const int pr = int(std::min<int64_t>(P, rows - p));
    float* d = dst + p * cols;
#if defined(__AVX512F__)
    if (m.rs == 1 || m.cs == 1) {
      switch (m.dtype) {
        case DType::kF32:
          pack_panel_vec<P, DType::kF32>(m, r0 + p, pr, c0, cols, d);
          break;
        case DType::kF16:
          pack_panel_vec<P, DType::kF16>(m, r0 + p, pr, c0, cols, d);
          break;
        default:
          pack_panel_vec<P, DType::kBF16>(m, r0 + p, pr, c0, cols, d);
      }
      continue;
    }
#endif
    // Any other strides: scalar gather.
    for (int64_t c = 0; c < cols; ++c)
      for (int i = 0; i < P; ++i)
        d[c * P + i] = i < pr ? load_elem(m, (r0 + p + i) * m.rs + (c0 + c) * m.cs) : 0.0f;
  }
}

// C tile (mr ≤ kMr, nr ≤ kNr) (+)= Ap[kc][kMr] · Bp[kc][kNr].
void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr,
                  bool add) {
#if defined(__AVX512F__)
  // The C tile is read (or written) after the k loop; C of a large product lives in L3, so
  // start fetching its rows now and let the loads overlap the FMAs.
  for (int i = 0; i < mr; ++i)  // an unaligned 32-float row spans up to three lines
    for (int j : {0, std::min(16, nr - 1), nr - 1})
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + j), _MM_HINT_T0);
  __m512 acc0[kMr], acc1[kMr];
#pragma GCC unroll 16
  for (int i = 0; i < kMr; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < kMr; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
    a += kMr;
    b += kNr;
  }
  if (mr == kMr && nr == kNr) {
#pragma GCC unroll 16
    for (int i = 0; i < kMr; ++i) {
      float* ci = c + i * ldc;
      if (add) {
        _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), acc0[i]));
        _mm512_storeu_ps(ci + 16, _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc1[i]));
      } else {
        _mm512_storeu_ps(ci, acc0[i]);
        _mm512_storeu_ps(ci + 16, acc1[i]);
      }
    }
    return;
  }
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr <= 16   ? __mmask16(0)
                       : nr >= 32 ? __mmask16(0xffff)
                                  : __mmask16((1u << (nr - 16)) - 1);
  for (int i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    __m512 v0 = acc0[i], v1 = acc1[i];
    if (add) {
      v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), v0);
      v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), v1);
    }
    _mm512_mask_storeu_ps(ci, m0, v0);
    _mm512_mask_storeu_ps(ci + 16, m1, v1);
  }
#elif defined(__AVX2__) && defined(__FMA__)
  // 16 ymm registers: the tile in groups of 3 rows × 32 columns (12 accumulators), each group
  // one pass over k (the B micro-panel is read again from L1/L2 by each group).
  for (int i0 = 0; i0 < mr; i0 += 3) {
    const int i1 = std::min(kMr - 1, i0 + 1), i2 = std::min(kMr - 1, i0 + 2);  // in the panel
    __m256 acc[3][4];
    for (auto& r : acc)
      for (auto& v : r) v = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const float* ak = a + k * kMr;
      const __m256 a0 = _mm256_broadcast_ss(ak + i0), a1 = _mm256_broadcast_ss(ak + i1),
                   a2 = _mm256_broadcast_ss(ak + i2);
      for (int v = 0; v < 4; ++v) {
        const __m256 bv = _mm256_loadu_ps(b + k * kNr + 8 * v);
        acc[0][v] = _mm256_fmadd_ps(a0, bv, acc[0][v]);
        acc[1][v] = _mm256_fmadd_ps(a1, bv, acc[1][v]);
        acc[2][v] = _mm256_fmadd_ps(a2, bv, acc[2][v]);
      }
    }
    for (int r = 0; r < 3 && i0 + r < mr; ++r)
      for (int v = 0; v < 4 && 8 * v < nr; ++v) {
        float* ci = c + (i0 + r) * ldc + 8 * v;
        const int n = nr - 8 * v;
        __m256 x = acc[r][v];
        if (add) x = _mm256_add_ps(simd::load_n(ci, n), x);
        simd::store_n(ci, n, x);
      }
  }
#else
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += a[k * kMr + i] * b[k * kNr + j];
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
#endif
}

// One thread's share: rows [m0, m1) × columns [n0, n1) of C.
void gemm_block(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K, const MatRef& A,
                const MatRef& B, float* C, int64_t ldc, bool accumulate) {
  if (m1 <= m0 || n1 <= n0) return;
  if (K == 0) {
    if (!accumulate)
      for (int64_t i = m0; i < m1; ++i) std::fill(C + i * ldc + n0, C + i * ldc + n1, 0.0f);
    return;
  }
  // B is packed transposed: panels of kNr columns, each [kc][kNr].
  const MatRef Bt{B.data, B.dtype, B.cs, B.rs};
  // Packing buffers live per thread across calls (attention issues many small products).
  thread_local std::vector<float> bp, ap;
  const size_t nb = size_t(std::min(kNc, (n1 - n0 + kNr - 1) / kNr * kNr) * kKc);
  const size_t na = size_t(std::min(kMc, (m1 - m0 + kMr - 1) / kMr * kMr) * kKc);
  if (bp.size() < nb) bp.resize(nb);
  if (ap.size() < na) ap.resize(na);
  // One A block (small M, e.g. lm_head on the loss rows): each B micro-panel is packed right
  // before its products and consumed from L1, instead of packing a whole B block that would
  // be written to and read back from L2/L3 for only mc rows of work.
  const bool one_a_block = m1 - m0 <= kMc;
  for (int64_t jc = n0; jc < n1; jc += kNc) {
    const int64_t nc = std::min(kNc, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kKc) {
      const int64_t kc = std::min(kKc, K - pc);
      const bool add = accumulate || pc > 0;
      if (!one_a_block) pack<kNr>(Bt, jc, nc, pc, kc, bp.data());
      for (int64_t ic = m0; ic < m1; ic += kMc) {
        const int64_t mc = std::min(kMc, m1 - ic);
        pack<kMr>(A, ic, mc, pc, kc, ap.data());
        const float* a = ap.data();
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          const int nr = int(std::min<int64_t>(kNr, nc - jr));
          const float* b = bp.data() + jr * kc;
          if (one_a_block) {
            pack<kNr>(Bt, jc + jr, nr, pc, kc, bp.data());
            b = bp.data();
          }
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            const int mr = int(std::min<int64_t>(kMr, mc - ir));
            micro_kernel(kc, a + ir * kc, b, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, add);
          }
        }
      }
    }
  }
}

std::atomic<uint64_t> g_flops{0};

}  // namespace

uint64_t gemm_flop_count() { return g_flops.load(std::memory_order_relaxed); }

MatRef weight(const TensorView& w) {
  if (w.shape.size() != 2) throw ShapeError("gemm: weight must be 2-D, got " + shape_str(w.shape));
  return {w.data, w.dtype, w.shape[1], 1};
}

MatRef weight_t(const TensorView& w) {
  if (w.shape.size() != 2) throw ShapeError("gemm: weight must be 2-D, got " + shape_str(w.shape));
  return {w.data, w.dtype, 1, w.shape[1]};
}

void gemm(int64_t M, int64_t N, int64_t K, const MatRef& A, const MatRef& B, float* C, int64_t ldc,
          bool accumulate) {
  if (M <= 0 || N <= 0) return;
  g_flops.fetch_add(uint64_t(2 * M * N * K), std::memory_order_relaxed);
  const detail::GemmProfileScope prof(M, N, K, A, B);
  const int nt = num_threads();
  const double work = double(M) * double(N) * double(K);
  if (nt == 1 || work < 2e5) {
    gemm_block(0, M, 0, N, K, A, B, C, ldc, accumulate);
    return;
  }
  // Split the larger dimension in whole micro-tiles so threads never share a C tile.
  const bool split_n = (N + kNr - 1) / kNr >= (M + kMr - 1) / kMr;
  const int64_t unit = split_n ? kNr : kMr;
  const int64_t tiles = ((split_n ? N : M) + unit - 1) / unit;
  parallel_run([&](int t, int n) {
    const int64_t t0 = tiles * t / n, t1 = tiles * (t + 1) / n;
    if (split_n)
      gemm_block(0, M, t0 * unit, std::min(N, t1 * unit), K, A, B, C, ldc, accumulate);
    else
      gemm_block(t0 * unit, std::min(M, t1 * unit), 0, N, K, A, B, C, ldc, accumulate);
  });
}

void gemm_ref(int64_t M, int64_t N, int64_t K, const MatRef& A, const MatRef& B, float* C,
              int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = accumulate ? double(C[i * ldc + j]) : 0.0;
      for (int64_t k = 0; k < K; ++k)
        s += double(load_elem(A, i * A.rs + k * A.cs)) * double(load_elem(B, k * B.rs + j * B.cs));
      C[i * ldc + j] = float(s);
    }
}

}  // namespace dsvl::kernels
