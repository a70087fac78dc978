#if defined(__AVX512F__) && !defined(__clang__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "kernels/cpu/simd.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels {
namespace {

#if defined(__AVX512F__)
// Register tile: kMR rows × 32 columns of C in 28 zmm accumulators. Per k step it loads two
// B vectors and broadcasts kMR A values: 28 FMAs per 16 loads, and only 128 bytes of B per
// 14 FMA cycles, so B may stream from L2 (a 4×64 tile needs 256 bytes per 8 cycles and stalls
// on L2 bandwidth at about half the FMA peak).
constexpr int kMR = 14;

// C[MR, NV·16] = A[MR, K]·B[K, NV·16]; the last 16-column vector is masked by `tail`.
template <int MR, int NV>
void nn_tile(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t K, __mmask16 tail, bool accumulate) {
  // Fully unrolled so the accumulators stay in registers (without the pragmas GCC 12 spills
  // them to the stack on every k step).
  __m512 acc[MR][NV];
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) {
    if constexpr (NV == 2)
      acc[r][0] = accumulate ? _mm512_loadu_ps(C + r * ldc) : _mm512_setzero_ps();
    acc[r][NV - 1] =
        accumulate ? _mm512_maskz_loadu_ps(tail, C + r * ldc + 16 * (NV - 1)) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
    if constexpr (NV == 2) b[0] = _mm512_loadu_ps(B + k * ldb);
    b[NV - 1] = _mm512_maskz_loadu_ps(tail, B + k * ldb + 16 * (NV - 1));
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) {
    if constexpr (NV == 2) _mm512_storeu_ps(C + r * ldc, acc[r][0]);
    _mm512_mask_storeu_ps(C + r * ldc + 16 * (NV - 1), tail, acc[r][NV - 1]);
  }
}

template <int NV>
void nn_tile_rows(int mr, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                  int64_t ldc, int64_t K, __mmask16 tail, bool accumulate) {
  switch (mr) {
    case 1:
      return nn_tile<1, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 2:
      return nn_tile<2, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 3:
      return nn_tile<3, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 4:
      return nn_tile<4, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 5:
      return nn_tile<5, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 6:
      return nn_tile<6, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 7:
      return nn_tile<7, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 8:
      return nn_tile<8, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 9:
      return nn_tile<9, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 10:
      return nn_tile<10, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 11:
      return nn_tile<11, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 12:
      return nn_tile<12, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 13:
      return nn_tile<13, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    default:
      return nn_tile<kMR, NV>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
// AVX2 (16 ymm): kMR rows × 16 columns in 12 accumulators; per k two B loads, kMR broadcasts.
constexpr int kMR = 6;

// C[MR, NV·8] = A[MR, K]·B[K, NV·8]; with Masked, the last 8-column vector is masked by
// `tail`. Full tiles take plain loads and stores: vmaskmovps stores are microcoded on AMD
// (Zen 3: a q·kᵀ tile of 64 k steps ran ~5% faster without its 12 masked stores).
template <int MR, int NV, bool Masked>
void nn_tile(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t K, __m256i tail, bool accumulate) {
  const auto load_last = [&](const float* p) {
    if constexpr (Masked) return _mm256_maskload_ps(p, tail);
    return _mm256_loadu_ps(p);
  };
  __m256 acc[MR][NV];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    if constexpr (NV == 2)
      acc[r][0] = accumulate ? _mm256_loadu_ps(C + r * ldc) : _mm256_setzero_ps();
    acc[r][NV - 1] = accumulate ? load_last(C + r * ldc + 8 * (NV - 1)) : _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
    __m256 b[NV];
    if constexpr (NV == 2) b[0] = _mm256_loadu_ps(B + k * ldb);
    b[NV - 1] = load_last(B + k * ldb + 8 * (NV - 1));
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    if constexpr (NV == 2) _mm256_storeu_ps(C + r * ldc, acc[r][0]);
    if constexpr (Masked)
      _mm256_maskstore_ps(C + r * ldc + 8 * (NV - 1), tail, acc[r][NV - 1]);
    else
      _mm256_storeu_ps(C + r * ldc + 8 * (NV - 1), acc[r][NV - 1]);
  }
}

template <int NV, bool Masked>
void nn_tile_rows(int mr, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                  int64_t ldc, int64_t K, __m256i tail, bool accumulate) {
  switch (mr) {
    case 1:
      return nn_tile<1, NV, Masked>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 2:
      return nn_tile<2, NV, Masked>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 3:
      return nn_tile<3, NV, Masked>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 4:
      return nn_tile<4, NV, Masked>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    case 5:
      return nn_tile<5, NV, Masked>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
    default:
      return nn_tile<kMR, NV, Masked>(A, lda, B, ldb, C, ldc, K, tail, accumulate);
  }
}
#endif

// Flash-style blocking: kBlockRows query rows at a time walk the keys in chunks of kKeyChunk,
// keeping a running row maximum and sum (online softmax) and accumulating the unnormalised
// P·v into the block's output, so the chunk's transposed keys, its values and the
// [kBlockRows, kKeyChunk] scores stay in L2 while all the block's rows use them. With whole
// score rows instead (4096 keys in SAM's global blocks), every block of a few rows streamed
// the head's keys and values (2 MB) from L3.
#if defined(__AVX512F__)
// Not yet measured on an AVX-512 CPU: 14 rows and whole score rows, as before the chunking.
constexpr int64_t kBlockRows = kMR;
constexpr int64_t kKeyChunk = int64_t(1) << 40;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int64_t kBlockRows = 8 * kMR;
constexpr int64_t kKeyChunk = 256;
#else
constexpr int64_t kBlockRows = 16;
constexpr int64_t kKeyChunk = 256;
#endif

}  // namespace

void gemm_nn(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K, bool accumulate) {
#if defined(__AVX512F__)
  for (int64_t j = 0; j < N; j += 32) {
    const int64_t nc = std::min<int64_t>(32, N - j);
    const int64_t rem = nc > 16 ? nc - 16 : nc;
    const __mmask16 tail = rem == 16 ? __mmask16(0xffff) : __mmask16((1u << rem) - 1);
    for (int64_t i = 0; i < M; i += kMR) {
      const int mr = int(std::min<int64_t>(kMR, M - i));
      if (nc > 16)
        nn_tile_rows<2>(mr, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, K, tail,
                        accumulate);
      else
        nn_tile_rows<1>(mr, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, K, tail,
                        accumulate);
    }
  }
#elif defined(__AVX2__) && defined(__FMA__)
  for (int64_t j = 0; j < N; j += 16) {
    const int64_t nc = std::min<int64_t>(16, N - j);
    const __m256i tail = simd::mask8(int(nc > 8 ? nc - 8 : nc));
    for (int64_t i = 0; i < M; i += kMR) {
      const int mr = int(std::min<int64_t>(kMR, M - i));
      const float* b = B + j;
      float* c = C + i * ldc + j;
      if (nc == 16)
        nn_tile_rows<2, false>(mr, A + i * lda, lda, b, ldb, c, ldc, K, tail, accumulate);
      else if (nc > 8)
        nn_tile_rows<2, true>(mr, A + i * lda, lda, b, ldb, c, ldc, K, tail, accumulate);
      else if (nc == 8)
        nn_tile_rows<1, false>(mr, A + i * lda, lda, b, ldb, c, ldc, K, tail, accumulate);
      else
        nn_tile_rows<1, true>(mr, A + i * lda, lda, b, ldb, c, ldc, K, tail, accumulate);
    }
  }
#else
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (!accumulate) std::fill(c, c + N, 0.0f);
    for (int64_t k = 0; k < K; ++k) {
      const float a = A[i * lda + k];
      const float* b = B + k * ldb;
      for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
#endif
}

// Row stride of the transposed keys and of the score block: n_k rounded up to a multiple of
// 16 plus 16 floats, so that consecutive rows do not fall on the same L1 set (a stride of 4096
// floats = 16 KB would make the rows touched by one register tile thrash a single set).
int64_t padded_stride(int64_t n_k) { return (n_k + 15) / 16 * 16 + 16; }

namespace {

// Walks query row i's biased keys [j0, j1) one key-grid row (or the part of it in range) at a
// time: fn(seg, h, rw, x0, x1) with seg[x] the score of key (y, x) for x in [x0, x1), h =
// rel_h[i, y] and rw the row's rel_w.
template <typename Fn>
void for_grid_rows(const GridBias& bias, int64_t i, int64_t j0, int64_t j1, float* row, Fn&& fn) {
  const float* rh = bias.rel_h + i * bias.kh;
  const float* rw = bias.rel_w + i * bias.kw;
  // One division for the first key; each later grid row starts at x = 0 (a division per row
  // cost SAM-B's global head ~10% once the bias pass was vectorised).
  int64_t x0 = j0 % bias.kw;
  for (int64_t j = j0, y = j0 / bias.kw; j < j1; ++y, x0 = 0) {
    const int64_t x1 = std::min(bias.kw, x0 + (j1 - j));
    fn(row + (j - j0) - x0, rh[y], rw, x0, x1);
    j += x1 - x0;
  }
}

}  // namespace

void add_grid_bias(const GridBias& bias, int64_t i, int64_t j0, int64_t j1, float* row) {
  for_grid_rows(bias, i, j0, j1, row,
                [](float* seg, float h, const float* rw, int64_t x0, int64_t x1) {
                  for (int64_t x = x0; x < x1; ++x) seg[x] = (seg[x] + h) + rw[x];
                });
}

// One pass over the row with AVX-512 (SAM-B's global head on the AMX path, session 18: part of
// 19.4-19.8 → 16.2-16.8 ms) and with AVX2 (Zen 3, same process alternating: SAM-B's global
// attention head −0.4% to −4.8%, a window head −0.6% to −4.8%); elsewhere the two passes.
float add_grid_bias_max(const GridBias& bias, int64_t i, int64_t j0, int64_t j1, float* row) {
#if defined(__AVX512F__)
  __m512 vmx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for_grid_rows(
      bias, i, j0, j1, row, [&](float* seg, float h, const float* rw, int64_t x0, int64_t x1) {
        const __m512 vh = _mm512_set1_ps(h);
        for (int64_t x = x0; x < x1; x += 16) {
          const __mmask16 m = simd::mask16(int(std::min<int64_t>(16, x1 - x)));
          const __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, seg + x), vh),
                                         _mm512_maskz_loadu_ps(m, rw + x));
          _mm512_mask_storeu_ps(seg + x, m, v);
          vmx = _mm512_mask_max_ps(vmx, m, vmx, v);
        }
      });
  return _mm512_reduce_max_ps(vmx);
#elif defined(__AVX2__) && defined(__FMA__)
  float mx = -std::numeric_limits<float>::infinity();
  __m256 vmx = _mm256_set1_ps(mx);
  for_grid_rows(
      bias, i, j0, j1, row, [&](float* seg, float h, const float* rw, int64_t x0, int64_t x1) {
        const __m256 vh = _mm256_set1_ps(h);
        int64_t x = x0;
        for (; x + 8 <= x1; x += 8) {
          const __m256 v =
              _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(seg + x), vh), _mm256_loadu_ps(rw + x));
          _mm256_storeu_ps(seg + x, v);
          vmx = _mm256_max_ps(vmx, v);
        }
        for (; x < x1; ++x) mx = std::max(mx, seg[x] = (seg[x] + h) + rw[x]);
      });
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmx);
  for (const float l : lanes) mx = std::max(mx, l);
  return mx;
#else
  add_grid_bias(bias, i, j0, j1, row);
  return softmax_max(row, j1 - j0);
#endif
}

namespace {

// Columns of one register tile of gemm_nn: the width of the value panels.
#if defined(__AVX512F__)
constexpr int64_t kPanel = 32;
#else
constexpr int64_t kPanel = 16;
#endif
int64_t panels(int64_t d) { return (d + kPanel - 1) / kPanel; }

// The float32 kernel's scratch: every buffer starts on a 64-byte line (a 32-byte load that
// straddles two lines costs a second load: tiles on 16-byte aligned operands measured 70-80%
// of the FMA peak against 80-86% aligned, Zen 3).
struct Scratch {
  float *kT, *vc, *qs, *acc, *s;
  static int64_t line(int64_t floats) { return (floats + 15) / 16 * 16; }
  static int64_t floats(int64_t n_chunks, int64_t lds, int64_t n_k, int64_t d) {
    return 16 + line(n_chunks * d * lds) + line(panels(d) * n_k * kPanel) +
           2 * line(kBlockRows * d) + kBlockRows * lds;
  }
  Scratch(float* base, int64_t n_chunks, int64_t lds, int64_t n_k, int64_t d) {
    kT = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(base) + 63) & ~uintptr_t(63));
    vc = kT + line(n_chunks * d * lds);
    qs = vc + line(panels(d) * n_k * kPanel);
    acc = qs + line(kBlockRows * d);
    s = acc + line(kBlockRows * d);
  }
};

// How attention_head walks n_k ≥ 1 keys: chunks of `size` keys (the last one shorter), whose
// transposed keys and scores are `stride` floats per row.
struct KeyChunks {
  int64_t size, count, stride;
  explicit KeyChunks(int64_t n_k)
      : size(std::min(kKeyChunk, n_k)),
        count((n_k + size - 1) / size),
        stride(padded_stride(size)) {}
};

// Prefetches part `part` of `parts` of the lines of p[0, n) into L2.
void prefetch_part(const float* p, int64_t n, int64_t part, int64_t parts) {
  const int64_t lines = (n + 15) / 16, l0 = lines * part / parts, l1 = lines * (part + 1) / parts;
  for (int64_t l = l0; l < l1; ++l) __builtin_prefetch(p + l * 16, 0, 2);
}

}  // namespace

int64_t attention_scratch_floats(int64_t n_k, int64_t d) {
  const KeyChunks c(std::max<int64_t>(n_k, 1));
  return std::max(Scratch::floats(c.count, c.stride, n_k, d),
                  attention_bf16_scratch_floats(n_k, d));
}

void attention_head(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                    int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                    const GridBias* bias, float* o, int64_t ldo, float* scratch, Precision p) {
  if (p == Precision::kBF16 &&
      attention_head_bf16(q, ldq, k, ldk, v, ldv, n_q, n_k, d, scale, bias, o, ldo, scratch))
    return;
  if (n_k <= 0) {  // no keys: zeros (an empty P·v)
    for (int64_t i = 0; i < n_q; ++i) std::fill(o + i * ldo, o + i * ldo + d, 0.0f);
    return;
  }
  const KeyChunks chunks(n_k);
  const int64_t chunk = chunks.size, n_chunks = chunks.count, lds = chunks.stride;
  // [n_chunks][d, lds]: each chunk's keys transposed (q·kᵀ is then an NN product) and kept
  // together: transposed rows of all n_k keys, 16 KB apart in SAM, put each of the 64 rows a
  // register tile reads on its own page, and the tile stalled on L1 TLB misses.
  const Scratch b(scratch, n_chunks, lds, n_k, d);
  float* kT = b.kT;  // [n_chunks][d, lds]
  // [d / kPanel][n_k, kPanel]: the values in column panels as wide as a register tile, so a
  // tile's P·v reads one contiguous run (rows of d = 64 floats put 256 rows of a 16-column
  // slice on 16 L1 sets: it did not stay in L1 across the block's row tiles).
  float* vc = b.vc;
  float* qs = b.qs;    // [kBlockRows, d]: scaled queries of the block
  float* acc = b.acc;  // [kBlockRows, d]: unnormalised output of the block
  float* s = b.s;      // [kBlockRows, lds]: a chunk's scores, then exp(s − max)
  // q, k and v are column slices of a wide qkv matrix (rows 12 KB apart in SigLIP-L), from L3:
  // rows are fetched a few iterations ahead, which the hardware prefetchers do not do for
  // such strides.
  constexpr int64_t kAhead = 8;
  const auto prefetch_row = [d](const float* row) {
    for (int64_t c = 0; c < d; c += 16) __builtin_prefetch(row + c, 0, 3);
  };
  for (int64_t j = 0; j < std::min(kAhead, n_k); ++j)
    prefetch_row(k + j * ldk), prefetch_row(v + j * ldv);
  for (int64_t j = 0; j < n_k; ++j) {
    if (j + kAhead < n_k)
      prefetch_row(k + (j + kAhead) * ldk), prefetch_row(v + (j + kAhead) * ldv);
    float* kTc = kT + j / chunk * d * lds + j % chunk;
    for (int64_t c = 0; c < d; ++c) kTc[c * lds] = k[j * ldk + c];
    for (int64_t c = 0; c < d; ++c)
      vc[(c / kPanel * n_k + j) * kPanel + c % kPanel] = v[j * ldv + c];
  }

  float row_max[kBlockRows];
  double row_sum[kBlockRows];
  for (int64_t i0 = 0; i0 < n_q; i0 += kBlockRows) {
    const int64_t bq = std::min(kBlockRows, n_q - i0);
    if (i0 == 0)
      for (int64_t r = 0; r < bq; ++r) prefetch_row(q + r * ldq);
    for (int64_t r = 0; r < bq; ++r)
      for (int64_t c = 0; c < d; ++c) qs[r * d + c] = q[(i0 + r) * ldq + c] * scale;
    for (int64_t r = i0 + bq; r < std::min(n_q, i0 + bq + kBlockRows); ++r)  // the next block's
      prefetch_row(q + r * ldq);
    for (int64_t j0 = 0; j0 < n_k; j0 += chunk) {
      const int64_t bk = std::min(chunk, n_k - j0);
      const bool first = j0 == 0;
      gemm_nn(qs, d, kT + j0 / chunk * d * lds, lds, s, lds, bq, bk, d);
      // While the softmax computes, fetch this chunk's values (P·v next) and the next chunk's
      // keys (the next block's first chunk after the last) into L2: together they are more
      // than L2 holds beside a block's work, so each block would wait on L3 for them.
      const float* next_kT = j0 + chunk < n_k ? kT + (j0 / chunk + 1) * d * lds : kT;
      for (int64_t r = 0; r < bq; ++r) {
        for (int64_t pc = 0; pc < d; pc += kPanel)
          prefetch_part(vc + (pc * n_k + j0 * kPanel), bk * kPanel, r, bq);
        prefetch_part(next_kT, d * lds, r, bq);
        float* row = s + r * lds;
        const float cm =
            bias ? add_grid_bias_max(*bias, i0 + r, j0, j0 + bk, row) : softmax_max(row, bk);
        const float m = first ? cm : std::max(row_max[r], cm);
        // A chunk of −inf scores before any finite one: shift by 0, not by −inf (−inf − −inf
        // is NaN and would poison the row; the whole-row softmax never subtracts it there).
        const double sum = softmax_exp(row, bk, std::isinf(m) && m < 0 ? 0.0f : m);
        if (first) {
          row_sum[r] = sum;
        } else if (m != row_max[r]) {  // rescale what the earlier chunks summed
          const float alpha = vecmath::exp_scalar(row_max[r] - m);
          row_sum[r] = row_sum[r] * alpha + sum;
          softmax_scale(acc + r * d, d, alpha);
        } else {
          row_sum[r] += sum;
        }
        row_max[r] = m;
      }
      for (int64_t pc = 0; pc < d; pc += kPanel)
        gemm_nn(s, lds, vc + (pc * n_k + j0 * kPanel), kPanel, acc + pc, d, bq,
                std::min(kPanel, d - pc), bk, !first);
    }
    for (int64_t r = 0; r < bq; ++r) {
      const float* a = acc + r * d;
      float* out = o + (i0 + r) * ldo;
      const float inv = float(1.0 / row_sum[r]);
      for (int64_t c = 0; c < d; ++c) out[c] = a[c] * inv;
    }
  }
}

void attention_head_ref(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                        int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                        const GridBias* bias, float* o, int64_t ldo) {
  std::vector<double> p(static_cast<size_t>(n_k));
  for (int64_t i = 0; i < n_q; ++i) {
    double mx = -1e300;
    for (int64_t j = 0; j < n_k; ++j) {
      double sc = 0;
      for (int64_t c = 0; c < d; ++c) sc += double(q[i * ldq + c]) * scale * k[j * ldk + c];
      if (bias)
        sc += double(bias->rel_h[i * bias->kh + j / bias->kw]) +
              double(bias->rel_w[i * bias->kw + j % bias->kw]);
      p[size_t(j)] = sc;
      mx = std::max(mx, sc);
    }
    double sum = 0;
    for (auto& x : p) sum += (x = std::exp(x - mx));
    for (int64_t c = 0; c < d; ++c) {
      double acc = 0;
      for (int64_t j = 0; j < n_k; ++j) acc += p[size_t(j)] * v[j * ldv + c];
      o[i * ldo + c] = float(acc / sum);
    }
  }
}

}  // namespace dsvl::kernels
