// Small-M (decode) path: C[M ≤ 8, N] = A·Bᵀ reading each weight row exactly once.
//
// Decode is bound by reading the weights. Each thread takes a contiguous range of B rows and
// walks 16 of them at a time along K: a 16×16 block of B is loaded (widened from F16, kept as
// bf16 pairs for BF16 weights, rounded to bf16 pairs for the bf16 path) and transposed in
// registers, so each zmm holds one k (or k pair) for 16 output columns; every activation row
// then accumulates with one FMA per k (vdpbf16ps per pair). That is exactly the per-element order
// of the blocked kernels' microkernels (see gemm_internal.h), so a row's result does not depend on
// how many rows share the call, and no packed copy of the weights is written. Weights repacked
// at load (BMatrix::panels) skip the transposes: their pair rows are the vectors already.
#include <algorithm>
#include <type_traits>

#include "core/threadpool.h"
#include "kernels/cpu/bmatrix_load.h"

namespace dsvl::kernels::detail {
namespace {

// Products too small to share between threads (split_panels runs them on the caller's).
[[maybe_unused]] bool serial(int64_t M, int64_t N, int64_t K) {
  return M * N * K < (int64_t(1) << 16) || N < 64;
}

#if defined(__AVX512F__)

// The microkernels' epilogue for M rows × 16 columns starting at column n0 (rows valid).
template <int M>
void store_rows(const __m512 acc[M], float* C, int64_t ldc, int64_t n0, int rows,
                const Epilogue& ep, bool first) {
  const __mmask16 m = simd::mask16(rows);
  const __m512 add =
      (first && ep.bias) ? _mm512_maskz_loadu_ps(m, ep.bias + n0) : _mm512_setzero_ps();
  const bool load_c = !first || ep.accumulate;
  for (int i = 0; i < M; ++i) {
    float* c = C + i * ldc + n0;
    __m512 v = _mm512_add_ps(acc[i], add);
    if (load_c) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
    _mm512_mask_storeu_ps(c, m, v);
  }
}

// Bytes ahead of each row's current position that both kernels prefetch: the 16 interleaved
// row streams are more than the hardware prefetchers follow well. Measured from DRAM on this
// machine: float32 kernel, one thread, 128 B +0%, 384 B +10%, 768 B −5%; bf16 dot kernel, two
// threads, 256 B +7%, 384 B +10%, 512 B +6%, 768 B +1%, 1 KB −2%.
constexpr int kPrefetchBytes = 384;

template <DType D>
inline void prefetch_b(const BMatrix& B, int64_t row, int64_t k) {
  constexpr int64_t kSize = D == DType::kF32 ? 4 : 2;
  _mm_prefetch(static_cast<const char*>(B.data) + (row * B.ld + k) * kSize + kPrefetchBytes,
               _MM_HINT_T0);
}

// B[row, k .. k+step) for the float32 kernel, prefetching ahead in the row: BF16 as 16 u32
// pairs (32 k), other dtypes as 16 floats.
template <DType D>
inline __m512 load_b_step(const BMatrix& B, int64_t row, int64_t k, int kt) {
  const int64_t off = row * B.ld + k;
  prefetch_b<D>(B, row, k);
  if constexpr (D == DType::kBF16) {
    const __mmask32 m = kt >= 32 ? ~__mmask32(0) : __mmask32((1u << kt) - 1);
    return _mm512_castsi512_ps(
        _mm512_maskz_loadu_epi16(m, static_cast<const uint16_t*>(B.data) + off));
  } else {
    return load_b_f32<D>(B, row, k, simd::mask16(kt));
  }
}

// float32: rows [n0, n0+rows) of B (rows ≤ 16) against the M rows of A.
//
// BF16 weights: a row's 32 k are loaded as 16 u32 pairs (k, k+1) and the 16×16 transpose
// moves pairs, so one transpose serves 32 k (half the shuffles of widening first, and no
// widening shuffles). Each pair vector then splits into the even-k float (low half shifted
// up) and the odd-k float (high half masked), used in k order: the canonical FMA order.
template <int M, DType D>
void gemv_group_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                    int64_t n0, int rows, int64_t K, const Epilogue& ep) {
  constexpr bool kPairs = D == DType::kBF16;
  constexpr int kStep = kPairs ? 32 : 16;  // k per transpose
  for (int64_t kb = 0; kb < K; kb += kKCf32) {
    const int64_t ke = std::min<int64_t>(K, kb + kKCf32);
    __m512 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t k = kb; k < ke; k += kStep) {
      const int kt = int(std::min<int64_t>(kStep, ke - k));
      __m512 r[16];
      for (int j = 0; j < 16; ++j)
        r[j] = j < rows ? load_b_step<D>(B, n0 + j, k, kt) : _mm512_setzero_ps();
      simd::transpose16x16(r);  // r[c] = column (or pair) c of the 16 rows
      if constexpr (kPairs) {
        for (int c = 0; 2 * c < kt; ++c) {
          const __m512i p = _mm512_castps_si512(r[c]);
          const float* a = A + k + 2 * c;
          const __m512 even = simd::bf16_pair_even(p);
          for (int i = 0; i < M; ++i)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda]), even, acc[i]);
          if (2 * c + 1 >= kt) break;
          const __m512 odd = simd::bf16_pair_odd(p);
          for (int i = 0; i < M; ++i)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda + 1]), odd, acc[i]);
        }
      } else {
        for (int c = 0; c < kt; ++c)
          for (int i = 0; i < M; ++i)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(A[i * lda + k + c]), r[c], acc[i]);
      }
    }
    store_rows<M>(acc, C, ldc, n0, rows, ep, kb == 0);
  }
}

// Bytes ahead in each panel stream that the repacked-weight kernels prefetch. Measured with
// gemv_panel_dot, 2 threads, cold 23 MB weights: none 24.8-25.1 GB/s, 1 KB 29.2-30.2 (the plain
// read rate), 2 KB 25.9-27.6, 4 KB 23.8-27.2.
constexpr int kPanelAhead = 1024;

inline void prefetch_pair_row(const uint32_t* row) {
  const char* q = reinterpret_cast<const char*>(row) + kPanelAhead;
  _mm_prefetch(q, _MM_HINT_T0);
  _mm_prefetch(q + 64, _MM_HINT_T0);
}

// Repacked weights (BMatrix::panels, BF16 only): a pair row of a panel is one k pair of 32
// columns, so it loads as two vectors of (k, k+1) pairs with no transpose, each split into the
// even-k and odd-k floats as in gemv_group_f32 and used in k order. NP panels (adjacent, NP·32
// columns from n0, the last possibly partial) go together: two streams per thread read at the
// full bandwidth of this machine where one stream reached ~75% (measured: 22 vs 29 GB/s).
template <int M, int NP>
void gemv_panel_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                    int64_t n0, int cols, int64_t K, const Epilogue& ep) {
  const int64_t pstride = panel_elems(K) / 2;  // pairs per panel
  const uint32_t* P = static_cast<const uint32_t*>(B.data) + n0 / kNR * pstride;
  for (int64_t kb = 0; kb < K; kb += kKCf32) {  // kb even: k below is the even one of a pair
    const int64_t ke = std::min<int64_t>(K, kb + kKCf32);
    __m512 acc[2 * NP][M];
    for (auto& a : acc)
      for (int i = 0; i < M; ++i) a[i] = _mm512_setzero_ps();
    for (int64_t k = kb; k < ke; k += 2) {
      const int64_t p = k / 2;
      for (int h = 0; h < NP; ++h) prefetch_pair_row(P + h * pstride + p * kNR);
      __m512i w[2 * NP];
      for (int h = 0; h < 2 * NP; ++h)
        w[h] = _mm512_loadu_si512(P + h / 2 * pstride + p * kNR + h % 2 * 16);
      for (int h = 0; h < 2 * NP; ++h) {
        const __m512 even = simd::bf16_pair_even(w[h]);
        for (int i = 0; i < M; ++i)
          acc[h][i] = _mm512_fmadd_ps(_mm512_set1_ps(A[i * lda + k]), even, acc[h][i]);
      }
      if (k + 1 == ke) break;
      for (int h = 0; h < 2 * NP; ++h) {
        const __m512 odd = simd::bf16_pair_odd(w[h]);
        for (int i = 0; i < M; ++i)
          acc[h][i] = _mm512_fmadd_ps(_mm512_set1_ps(A[i * lda + k + 1]), odd, acc[h][i]);
      }
    }
    for (int h = 0; h < 2 * NP && 16 * h < cols; ++h)
      store_rows<M>(acc[h], C, ldc, n0 + 16 * h, std::min(cols - 16 * h, 16), ep, kb == 0);
  }
}

// A thread's columns [b, e) of repacked weights, panel by panel: two at a time where the
// 4·M accumulators fit the registers (M ≤ 4). fn(np, n0, cols) with np an integral_constant.
template <int M, typename Fn>
void walk_panels(int64_t b, int64_t e, Fn&& fn) {
  int64_t n = b;
  if constexpr (M <= 4)
    for (; n + kNR < e; n += 2 * kNR)
      fn(std::integral_constant<int, 2>{}, n, int(std::min<int64_t>(2 * kNR, e - n)));
  for (; n < e; n += kNR)
    fn(std::integral_constant<int, 1>{}, n, int(std::min<int64_t>(kNR, e - n)));
}

#endif

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)

// AVX2 + FMA (no AVX-512): the same two kernels on 8 lanes, in the same canonical order (per K
// block, one FMA chain per output element over k): weights in rows through 8×8 transposes,
// repacked BF16 panels through their pair rows.

// The epilogue for M rows × w ≤ 8 columns from column n.
template <int M>
void store8(const __m256 acc[M], float* C, int64_t ldc, int64_t n, int w, const Epilogue& ep,
            bool first) {
  const __m256 add = (first && ep.bias) ? simd::load_n(ep.bias + n, w) : _mm256_setzero_ps();
  const bool load_c = !first || ep.accumulate;
  for (int i = 0; i < M; ++i) {
    float* c = C + i * ldc + n;
    __m256 x = _mm256_add_ps(acc[i], add);
    if (load_c) x = _mm256_add_ps(x, simd::load_n(c, w));
    simd::store_n(c, w, x);
  }
}

// B[row, k .. k+8) as floats (widened exactly), prefetching 384 bytes ahead in the row.
template <DType D>
inline __m256 load8(const BMatrix& B, int64_t row, int64_t k) {
  const int64_t off = row * B.ld + k;
  if constexpr (D == DType::kF32) {
    const float* p = static_cast<const float*>(B.data) + off;
    _mm_prefetch(reinterpret_cast<const char*>(p) + 384, _MM_HINT_T0);
    return _mm256_loadu_ps(p);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(B.data) + off;
    _mm_prefetch(reinterpret_cast<const char*>(p) + 384, _MM_HINT_T0);
    if constexpr (D == DType::kF16) return simd::load_f16(p);
    return simd::load_bf16(p);
  }
}

template <DType D>
inline float elem(const BMatrix& B, int64_t row, int64_t k) {
  const int64_t off = row * B.ld + k;
  if constexpr (D == DType::kF32) return static_cast<const float*>(B.data)[off];
  if constexpr (D == DType::kF16) return f16_to_f32(static_cast<const uint16_t*>(B.data)[off]);
  return bf16_to_f32(static_cast<const uint16_t*>(B.data)[off]);
}

// Rows [n0, n0 + rows) of B (rows ≤ 8·G) in their stored dtype against the M rows of A, in G
// groups of 8 so that G·M FMA chains run side by side (one chain is latency-bound at M = 1).
template <int M, int G, DType D>
void gemv_rows_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t n0,
                   int rows, int64_t K, const Epilogue& ep) {
  for (int64_t kb = 0; kb < K; kb += kKCf32) {
    const int64_t ke = std::min<int64_t>(K, kb + kKCf32);
    __m256 acc[G][M];
    for (auto& a : acc)
      for (int i = 0; i < M; ++i) a[i] = _mm256_setzero_ps();
    int64_t k = kb;
    for (; k + 8 <= ke; k += 8)
      for (int g = 0; g < G; ++g) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j)
          r[j] = 8 * g + j < rows ? load8<D>(B, n0 + 8 * g + j, k) : _mm256_setzero_ps();
        simd::transpose8x8(r);  // r[c] = column k + c of the 8 rows
        for (int c = 0; c < 8; ++c)
          for (int i = 0; i < M; ++i)
            acc[g][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(A + i * lda + k + c), r[c], acc[g][i]);
      }
    for (; k < ke; ++k)
      for (int g = 0; g < G; ++g) {
        alignas(32) float col[8] = {};
        for (int j = 0; j < 8 && 8 * g + j < rows; ++j) col[j] = elem<D>(B, n0 + 8 * g + j, k);
        const __m256 b = _mm256_load_ps(col);
        for (int i = 0; i < M; ++i)
          acc[g][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(A + i * lda + k), b, acc[g][i]);
      }
    for (int g = 0; g < G && 8 * g < rows; ++g)
      store8<M>(acc[g], C, ldc, n0 + 8 * g, std::min(rows - 8 * g, 8), ep, kb == 0);
  }
}

// Bytes ahead in each pair-row stream that the panel kernel prefetches (as kPanelAhead above).
constexpr int kAhead = 1024;

// Repacked weights: V vectors of 8 columns each, columns [n0, n0 + 8V) (crossing panels where
// 8V > kNR; only the first `cols` computed and stored), against the M rows of A. V·M ≤ 12.
template <int M, int V>
void gemv_vectors_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                      int64_t n0, int cols, int64_t K, const Epilogue& ep) {
  const int64_t pstride = panel_elems(K) / 2;  // pairs per panel
  const uint32_t* s[V];
  for (int v = 0; v < V; ++v) {
    const int64_t n = n0 + 8 * std::min(v, (cols - 1) / 8);  // past the end: re-read the last
    s[v] = static_cast<const uint32_t*>(B.data) + n / kNR * pstride + n % kNR;
  }
  // GCC keeps acc in registers only while every index into it is a constant: the loops over v
  // are unrolled, and the odd k of an odd-length block gets its own loop. (A runtime bound on
  // the store loop made it store all V accumulators to the stack at every k pair and broadcast
  // A again per vector: the attention scores at M = 1, in cache, 21-23% slower.)
  for (int64_t kb = 0; kb < K; kb += kKCf32) {  // kb even: k below is the even one of a pair
    const int64_t ke = std::min<int64_t>(K, kb + kKCf32);
    __m256 acc[V][M];
    for (auto& a : acc)
      for (int i = 0; i < M; ++i) a[i] = _mm256_setzero_ps();
    int64_t k = kb;
    for (; k + 1 < ke; k += 2) {
      const int64_t p = k / 2 * kNR;
      for (int v = 0; v < V; v += 2)  // one 64-byte line per two vectors
        _mm_prefetch(reinterpret_cast<const char*>(s[v] + p) + kAhead, _MM_HINT_T0);
      __m256 a0[M], a1[M];
      for (int i = 0; i < M; ++i)
        a0[i] = _mm256_broadcast_ss(A + i * lda + k),
        a1[i] = _mm256_broadcast_ss(A + i * lda + k + 1);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[v] + p));
        const __m256 even = simd::bf16_pair_even(w), odd = simd::bf16_pair_odd(w);
        for (int i = 0; i < M; ++i) acc[v][i] = _mm256_fmadd_ps(a0[i], even, acc[v][i]);
        for (int i = 0; i < M; ++i) acc[v][i] = _mm256_fmadd_ps(a1[i], odd, acc[v][i]);
      }
    }
    if (k < ke) {  // K odd: its last k, alone in its pair row
      const int64_t p = k / 2 * kNR;
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) {
        const __m256 even =
            simd::bf16_pair_even(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[v] + p)));
        for (int i = 0; i < M; ++i)
          acc[v][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(A + i * lda + k), even, acc[v][i]);
      }
    }
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v)
      if (8 * v < cols)
        store8<M>(acc[v], C, ldc, n0 + 8 * v, std::min(cols - 8 * v, 8), ep, kb == 0);
  }
}

// Vectors per call for M rows: as many as 12 accumulators allow, 8 (two panels, two pair-row
// streams) for one row.
template <int M>
constexpr int kVectors = M == 1   ? 8
                         : M <= 3 ? 4
                         : M <= 6 ? 2
                                  : 1;

template <int M>
void gemv_f32_m(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t N,
                int64_t K, const Epilogue& ep) {
  constexpr int V = kVectors<M>;
  if (B.panels)
    return split_panels(N, serial(M, N, K), [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; n += 8 * V)
        gemv_vectors_f32<M, V>(A, lda, B, C, ldc, n, int(std::min<int64_t>(8 * V, e - n)), K, ep);
    });
  // One group of 8 rows per call: 2 or 4 groups (more FMA chains, but 16-32 row streams) read
  // 25-45% slower on Zen 3, measured with gemm_bench 1x2048x5632.
  constexpr int G = 1;
  split_panels(N, serial(M, N, K), [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; n += 8 * G) {
      const int rows = int(std::min<int64_t>(8 * G, e - n));
      switch (B.dtype) {
        case DType::kF32:
          gemv_rows_f32<M, G, DType::kF32>(A, lda, B, C, ldc, n, rows, K, ep);
          break;
        case DType::kF16:
          gemv_rows_f32<M, G, DType::kF16>(A, lda, B, C, ldc, n, rows, K, ep);
          break;
        default:
          gemv_rows_f32<M, G, DType::kBF16>(A, lda, B, C, ldc, n, rows, K, ep);
      }
    }
  });
}

#endif

#if defined(__AVX512BF16__)

// bf16: X holds the M activation rows as bf16 pairs (row stride ldx pairs, zero-padded).
template <int M, DType D>
void gemv_group_dot(const uint32_t* X, int64_t ldx, const BMatrix& B, float* C, int64_t ldc,
                    int64_t n0, int rows, int64_t K, const Epilogue& ep) {
  for (int64_t kb = 0; kb < K; kb += kKCdot) {
    const int64_t ke = std::min<int64_t>(K, kb + kKCdot);
    __m512 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t k = kb; k < ke; k += 32) {
      const int kt = int(std::min<int64_t>(32, ke - k)), pt = (kt + 1) / 2;
      __m512 r[16];
      for (int j = 0; j < 16; ++j) {
        if (j >= rows) {
          r[j] = _mm512_setzero_ps();
          continue;
        }
        prefetch_b<D>(B, n0 + j, k);
        r[j] = _mm512_castsi512_ps(load_b_bf16<D>(B, n0 + j, k, kt));
      }
      simd::transpose16x16(r);  // r[c] = pair (k + 2c, k + 2c + 1) of the 16 rows
      for (int c = 0; c < pt; ++c)
        for (int i = 0; i < M; ++i) {
          const __m512i a = _mm512_set1_epi32(int(X[i * ldx + k / 2 + c]));
          acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)a, (__m512bh)_mm512_castps_si512(r[c]));
        }
    }
    store_rows<M>(acc, C, ldc, n0, rows, ep, kb == 0);
  }
}

// Repacked weights: as gemv_panel_f32, each pair vector a vdpbf16ps operand as loaded. Each
// element sees the same vdpbf16ps sequence as in gemv_group_dot.
template <int M, int NP>
void gemv_panel_dot(const uint32_t* X, int64_t ldx, const BMatrix& B, float* C, int64_t ldc,
                    int64_t n0, int cols, int64_t K, const Epilogue& ep) {
  const int64_t pstride = panel_elems(K) / 2;  // pairs per panel
  const uint32_t* P = static_cast<const uint32_t*>(B.data) + n0 / kNR * pstride;
  for (int64_t kb = 0; kb < K; kb += kKCdot) {
    const int64_t pe = (std::min<int64_t>(K, kb + kKCdot) + 1) / 2;
    __m512 acc[2 * NP][M];
    for (auto& a : acc)
      for (int i = 0; i < M; ++i) a[i] = _mm512_setzero_ps();
    for (int64_t p = kb / 2; p < pe; ++p) {
      for (int h = 0; h < NP; ++h) prefetch_pair_row(P + h * pstride + p * kNR);
      __m512bh w[2 * NP];
      for (int h = 0; h < 2 * NP; ++h)
        w[h] = (__m512bh)_mm512_loadu_si512(P + h / 2 * pstride + p * kNR + h % 2 * 16);
      for (int i = 0; i < M; ++i) {
        const __m512bh x = (__m512bh)_mm512_set1_epi32(int(X[i * ldx + p]));
        for (int h = 0; h < 2 * NP; ++h) acc[h][i] = _mm512_dpbf16_ps(acc[h][i], x, w[h]);
      }
    }
    for (int h = 0; h < 2 * NP && 16 * h < cols; ++h)
      store_rows<M>(acc[h], C, ldc, n0 + 16 * h, std::min(cols - 16 * h, 16), ep, kb == 0);
  }
}

#endif

// Walks a thread's rows in groups of 16 with the kernel for dtype D.
template <typename Group>
void walk_rows(int64_t b, int64_t e, Group&& group) {
  for (int64_t n = b; n < e; n += 16) group(n, int(std::min<int64_t>(16, e - n)));
}

#if defined(__AVX512F__)
template <int M>
void gemv_f32_m(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t N,
                int64_t K, const Epilogue& ep) {
  if (B.panels)
    return split_panels(N, serial(M, N, K), [&](int64_t b, int64_t e) {
      walk_panels<M>(b, e, [&](auto np, int64_t n, int cols) {
        gemv_panel_f32<M, decltype(np)::value>(A, lda, B, C, ldc, n, cols, K, ep);
      });
    });
  split_panels(N, serial(M, N, K), [&](int64_t b, int64_t e) {
    walk_rows(b, e, [&](int64_t n, int rows) {
      switch (B.dtype) {
        case DType::kF32:
          return gemv_group_f32<M, DType::kF32>(A, lda, B, C, ldc, n, rows, K, ep);
        case DType::kF16:
          return gemv_group_f32<M, DType::kF16>(A, lda, B, C, ldc, n, rows, K, ep);
        default:
          return gemv_group_f32<M, DType::kBF16>(A, lda, B, C, ldc, n, rows, K, ep);
      }
    });
  });
}
#endif

#if defined(__AVX512BF16__)
template <int M>
void gemv_dot_m(const uint32_t* X, int64_t ldx, const BMatrix& B, float* C, int64_t ldc, int64_t N,
                int64_t K, const Epilogue& ep) {
  if (B.panels)
    return split_panels(N, serial(M, N, K), [&](int64_t b, int64_t e) {
      walk_panels<M>(b, e, [&](auto np, int64_t n, int cols) {
        gemv_panel_dot<M, decltype(np)::value>(X, ldx, B, C, ldc, n, cols, K, ep);
      });
    });
  split_panels(N, serial(M, N, K), [&](int64_t b, int64_t e) {
    walk_rows(b, e, [&](int64_t n, int rows) {
      switch (B.dtype) {
        case DType::kF32:
          return gemv_group_dot<M, DType::kF32>(X, ldx, B, C, ldc, n, rows, K, ep);
        case DType::kF16:
          return gemv_group_dot<M, DType::kF16>(X, ldx, B, C, ldc, n, rows, K, ep);
        default:
          return gemv_group_dot<M, DType::kBF16>(X, ldx, B, C, ldc, n, rows, K, ep);
      }
    });
  });
}
#endif

}  // namespace

void gemv_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
              int64_t N, int64_t K, const Epilogue& ep) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return apply_empty_k(C, ldc, M, N, ep);
  if (M > kGemvMaxM) return gemm_f32(A, lda, B, C, ldc, M, N, K, ep);
  using Fn = void (*)(const float*, int64_t, const BMatrix&, float*, int64_t, int64_t, int64_t,
                      const Epilogue&);
  static constexpr Fn kByM[kGemvMaxM] = {gemv_f32_m<1>, gemv_f32_m<2>, gemv_f32_m<3>,
                                         gemv_f32_m<4>, gemv_f32_m<5>, gemv_f32_m<6>,
                                         gemv_f32_m<7>, gemv_f32_m<8>};
  kByM[M - 1](A, lda, B, C, ldc, N, K, ep);
#else
  gemm_f32(A, lda, B, C, ldc, M, N, K, ep);
#endif
}

void gemv_bf16_dot(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep) {
#if defined(__AVX512BF16__)
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return apply_empty_k(C, ldc, M, N, ep);
  if (M > kGemvMaxM) return gemm_bf16_dot(A, lda, B, C, ldc, M, N, K, ep);
  // The activations are rounded once here (caller's thread) and shared by both threads.
  thread_local std::vector<uint16_t> xbuf;
  const int64_t ldx = (K + 31) / 32 * 32;  // bf16 elements per row, zero-padded
  uint16_t* X = scratch(xbuf, size_t(M * ldx));
  convert_a_bf16(A, lda, M, 0, K, X, ldx);
  using Fn = void (*)(const uint32_t*, int64_t, const BMatrix&, float*, int64_t, int64_t, int64_t,
                      const Epilogue&);
  static constexpr Fn kByM[kGemvMaxM] = {gemv_dot_m<1>, gemv_dot_m<2>, gemv_dot_m<3>,
                                         gemv_dot_m<4>, gemv_dot_m<5>, gemv_dot_m<6>,
                                         gemv_dot_m<7>, gemv_dot_m<8>};
  kByM[M - 1](reinterpret_cast<const uint32_t*>(X), ldx / 2, B, C, ldc, N, K, ep);
#else
  gemm_bf16_dot(A, lda, B, C, ldc, M, N, K, ep);
#endif
}

}  // namespace dsvl::kernels::detail
