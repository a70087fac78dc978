// The bf16 flavour of attention_head (see attention.h): q·scale, k, v and the probabilities
// are rounded to bf16, products accumulate in float32, the bias and the softmax stay float32.
// Per head, the keys are laid out once as pairs of feature columns, [d/2][n_k], and the values
// as pairs of key rows, [n_k/2][d]; then each block of query rows is two passes: scores =
// Q·Kᵀ, probabilities P·V. Two kernels run them: AMX tiles (CPUs with AMX) and AVX512_BF16
// `vdpbf16ps` (Zen 4/5 and other CPUs without AMX), on the same operands.
//
// AMX, against blocks of 16 rows with a separate bias pass and softmax_row (session 18, Emerald
// Rapids VM, one thread, alternating processes, the same bits): SAM-B's global head (4096
// keys, grid bias) 16.2-16.8 ms vs 19.4-19.8, a window head (196 keys) 89-113 µs vs 102-106,
// a SigLIP-L head (576 keys) 314-333 µs vs 334-343.
#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/softmax.h"

#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
#include <immintrin.h>
#define DSVL_HAVE_AMX 1
#endif

namespace dsvl::kernels {
namespace {

constexpr int64_t kRows = 32;  // query rows per block: two tiles of rows

int64_t round32(int64_t n) { return (n + 31) / 32 * 32; }
// Row stride (uint32 / float elements) of the key pairs and the score block: a multiple of 16
// plus 16, so rows 4 KB apart do not share L1 sets.
int64_t key_stride(int64_t n_k) { return round32(n_k) + 16; }

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

#if defined(DSVL_HAVE_AMX) || defined(__AVX512BF16__)
#define DSVL_HAVE_BF16_ATTENTION 1
#endif

#if defined(DSVL_HAVE_BF16_ATTENTION)
__mmask16 first(int64_t n) { return simd::mask16(int(std::clamp<int64_t>(n, 0, 16))); }

// n floats (n ≤ 32; none read past n) · scale → bf16 at dst[0..32), zero past n.
inline void round_row32(const float* x, int64_t n, float scale, uint16_t* dst) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 lo = _mm512_mul_ps(_mm512_maskz_loadu_ps(first(n), x), s);
  const __m512 hi = _mm512_mul_ps(_mm512_maskz_loadu_ps(first(n - 16), x + 16), s);
  _mm512_storeu_si512(dst, simd::round_bf16x32(lo, hi));
}

// Kv[p][j] = bf16 pair (k[j][2p], k[j][2p+1]) for pairs [0, dq/2) and keys [0, nkp), zero past
// d and n_k: 16 keys × 16 pairs at a time, rounded as rows and transposed in registers.
void pack_key_pairs(const float* k, int64_t ldk_in, int64_t n_k, int64_t nkp, int64_t d, int64_t dq,
                    uint32_t* Kv, int64_t ldk) {
  for (int64_t j = 0; j < nkp; j += 16)
    for (int64_t p = 0; p < dq / 2; p += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        if (j + i < n_k) {
          const float* row = k + (j + i) * ldk_in + 2 * p;
          const __m512 lo = _mm512_maskz_loadu_ps(first(d - 2 * p), row);
          const __m512 hi = _mm512_maskz_loadu_ps(first(d - 2 * p - 16), row + 16);
          r[i] = _mm512_castsi512_ps(simd::round_bf16x32(lo, hi));
        } else {
          r[i] = _mm512_setzero_ps();
        }
      }
      simd::transpose16x16(r);
      for (int c = 0; c < 16; ++c)
        _mm512_storeu_ps(reinterpret_cast<float*>(Kv + (p + c) * ldk + j), r[c]);
    }
}

// Vv[i][c] = bf16 pair (v[2i][c], v[2i+1][c]) for key pairs [0, nkp/2) and columns [0, dv),
// zero past n_k and d.
void pack_value_pairs(const float* v, int64_t ldv, int64_t n_k, int64_t nkp, int64_t d, int64_t dv,
                      uint32_t* Vv) {
  for (int64_t i = 0; i < nkp / 2; ++i)
    for (int64_t c = 0; c < dv; c += 16) {
      const __mmask16 m = first(d - c);
      const __m512 a =
          2 * i < n_k ? _mm512_maskz_loadu_ps(m, v + 2 * i * ldv + c) : _mm512_setzero_ps();
      const __m512 b = 2 * i + 1 < n_k ? _mm512_maskz_loadu_ps(m, v + (2 * i + 1) * ldv + c)
                                       : _mm512_setzero_ps();
      const __m512i pair = _mm512_or_si512(simd::round_bf16_lanes(a),
                                           _mm512_slli_epi32(simd::round_bf16_lanes(b), 16));
      _mm512_storeu_si512(Vv + i * dv + c, pair);
    }
}

// Qb[r][0..dq) = bf16(q row i0 + r · scale) for r < bq, zero for bq ≤ r < rows (nothing is
// read for those).
void round_queries(const float* q, int64_t ldq, int64_t i0, int64_t bq, int64_t rows, int64_t d,
                   int64_t dq, float scale, uint16_t* Qb) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dq; c += 32)
      round_row32(r < bq ? q + (i0 + r) * ldq + c : q, r < bq ? d - c : 0, scale, Qb + r * dq + c);
}

// Row r of the block's scores (query i0 + r, rows ldk apart) → its softmax probabilities as
// bf16, zero past n_k; rows past bq all zero. softmax_row with the bias folded into its max
// pass and its scaling into the rounding: the same operations on the same values, two passes
// over the row fewer.
void probabilities(float* S, int64_t ldk, int64_t i0, int64_t bq, int64_t rows, int64_t n_k,
                   int64_t nkp, const GridBias* bias, uint16_t* P) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = S + r * ldk;
    uint16_t* prow = P + r * ldk;
    if (r >= bq) {
      std::fill(prow, prow + nkp, uint16_t(0));
      continue;
    }
    const float mx = bias ? add_grid_bias_max(*bias, i0 + r, 0, n_k, row) : softmax_max(row, n_k);
    const auto inv = float(1.0 / softmax_exp(row, n_k, mx));
    for (int64_t j = 0; j < nkp; j += 32)
      round_row32(row + j, std::min<int64_t>(32, n_k - j), inv, prow + j);
  }
}
#endif

#if defined(DSVL_HAVE_AMX)
// S[32 rows][nkp keys] (rows ldk apart) = Qb[32][dq] · keys: the 32 query rows' operand tiles
// (4-7: rows 0-15 and 16-31, features 0-31 and 32-63) load once, and each 16 keys' key tiles
// (2-3) then serve both row tiles, into accumulators 0-1. Per 16 keys and dq = 64: two tile
// loads, four products, two stores, against eight loads for the same products run as two
// 16-row blocks (in the Emerald Rapids VM's slow spells a tile load costs about a product).
void scores(const uint16_t* Qb, int64_t dq, const uint32_t* Kv, int64_t ldk, int64_t nkp,
            float* S) {
  const int q_stride = int(dq * 2), k_stride = int(ldk * 4), s_stride = int(ldk * 4);
  float* S16 = S + 16 * ldk;
  _tile_loadd(4, Qb, q_stride);
  _tile_loadd(6, Qb + 16 * dq, q_stride);
  if (dq == 64) {
    _tile_loadd(5, Qb + 32, q_stride);
    _tile_loadd(7, Qb + 16 * dq + 32, q_stride);
  }
  for (int64_t j = 0; j < nkp; j += 16) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_loadd(2, Kv + j, k_stride);
    _tile_dpbf16ps(0, 4, 2);
    _tile_dpbf16ps(1, 6, 2);
    if (dq == 64) {
      _tile_loadd(3, Kv + 16 * ldk + j, k_stride);
      _tile_dpbf16ps(0, 5, 3);
      _tile_dpbf16ps(1, 7, 3);
    }
    _tile_stored(0, S + j, s_stride);
    _tile_stored(1, S16 + j, s_stride);
  }
}

// Ot[dv/16 tiles][32 rows][16] = P[32 rows][nkp] (rows ldk apart) · the value pairs, over the
// keys in steps of 32 (16 value pairs), 32 output columns per pass: accumulators 0-3 (rows 0-15
// and 16-31 × the pass's two column tiles), probabilities 4-5, values 6-7. Per pass and 32 keys
// four tile loads for four products (16-row blocks over all of d = 64 took five for four).
void probs_times_values(const uint16_t* P, int64_t ldk, const uint32_t* Vv, int64_t dv, int64_t nkp,
                        float* Ot) {
  const int nt = int(dv / 16), p_stride = int(ldk * 2), v_stride = int(dv * 4);
  for (int t = 0; t < nt; t += 2) {
    const bool pair = t + 1 < nt;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t j = 0; j < nkp; j += 32) {
      const uint32_t* vb = Vv + j / 2 * dv + 16 * t;
      _tile_loadd(4, P + j, p_stride);
      _tile_loadd(6, vb, v_stride);
      _tile_dpbf16ps(0, 4, 6);
      _tile_loadd(5, P + 16 * ldk + j, p_stride);
      _tile_dpbf16ps(2, 5, 6);
      if (pair) {
        _tile_loadd(7, vb + 16, v_stride);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(3, 5, 7);
      }
    }
    float* ot = Ot + t * 512;
    _tile_stored(0, ot, 64);
    _tile_stored(2, ot + 256, 64);
    if (pair) {
      _tile_stored(1, ot + 512, 64);
      _tile_stored(3, ot + 768, 64);
    }
  }
}
#endif

#if defined(__AVX512BF16__)
// vdpbf16ps adds to each float32 lane the products of one bf16 pair of each operand: the query
// (or probability) pairs are broadcast, the key (or value) pairs are the vectors.
constexpr int kDotScoreRows = 12;  // rows per scores pass: 12 rows × 32 keys, 24 accumulators
constexpr int kDotPvRows = 6;     // rows per P·V pass: 6 rows × up to 64 columns, 24 accumulators
constexpr int64_t kDotRows = 24;  // query rows per block: two scores passes, four P·V passes
static_assert(
    kDotRows <= kRows && kDotRows % kDotScoreRows == 0 && kDotScoreRows % kDotPvRows == 0,
    "a block fits the scratch laid out for kRows; P·V passes stay inside the scored rows");

inline __m512bh broadcast_pair(const uint16_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return (__m512bh)_mm512_set1_epi32(int(v));
}

// S[kDotScoreRows rows][nkp keys] (rows ldk apart) = Qb[rows][dq] · keys, 32 keys at a time:
// per feature pair two key vectors and, per row, one broadcast and two vdpbf16ps.
void scores_dot(const uint16_t* Qb, int64_t dq, const uint32_t* Kv, int64_t ldk, int64_t nkp,
                float* S) {
  for (int64_t j = 0; j < nkp; j += 32) {
    __m512 c0[kDotScoreRows], c1[kDotScoreRows];
    for (int r = 0; r < kDotScoreRows; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t p = 0; p < dq / 2; ++p) {
      const auto b0 = (__m512bh)_mm512_loadu_si512(Kv + p * ldk + j);
      const auto b1 = (__m512bh)_mm512_loadu_si512(Kv + p * ldk + j + 16);
#pragma GCC unroll 12
      for (int r = 0; r < kDotScoreRows; ++r) {
        const __m512bh a = broadcast_pair(Qb + r * dq + 2 * p);
        c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
        c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
      }
    }
    for (int r = 0; r < kDotScoreRows; ++r) {
      _mm512_storeu_ps(S + r * ldk + j, c0[r]);
      _mm512_storeu_ps(S + r * ldk + j + 16, c1[r]);
    }
  }
}

// o[rows < kDotPvRows][0, d) (rows ldo apart) = P[kDotPvRows][nkp] (bf16, rows ldk apart) · the
// value pairs ([nkp/2][16·NT]), over the keys a pair at a time.
template <int NT>
void probs_times_values_dot(const uint16_t* P, int64_t ldk, const uint32_t* Vv, int64_t nkp,
                            int rows, int64_t d, float* o, int64_t ldo) {
  __m512 acc[kDotPvRows][NT];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (int64_t i = 0; i < nkp / 2; ++i) {
    __m512bh v[NT];
    for (int t = 0; t < NT; ++t) v[t] = (__m512bh)_mm512_loadu_si512(Vv + i * 16 * NT + 16 * t);
#pragma GCC unroll 6
    for (int r = 0; r < kDotPvRows; ++r) {
      const __m512bh a = broadcast_pair(P + r * ldk + 2 * i);
      for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], a, v[t]);
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < NT; ++t)
      _mm512_mask_storeu_ps(o + r * ldo + 16 * t, first(d - 16 * t), acc[r][t]);
}

void probs_times_values_dot(const uint16_t* P, int64_t ldk, const uint32_t* Vv, int64_t dv,
                            int64_t nkp, int rows, int64_t d, float* o, int64_t ldo) {
  switch (dv / 16) {
    case 1:
      return probs_times_values_dot<1>(P, ldk, Vv, nkp, rows, d, o, ldo);
    case 2:
      return probs_times_values_dot<2>(P, ldk, Vv, nkp, rows, d, o, ldo);
    case 3:
      return probs_times_values_dot<3>(P, ldk, Vv, nkp, rows, d, o, ldo);
    default:
      return probs_times_values_dot<4>(P, ldk, Vv, nkp, rows, d, o, ldo);
  }
}
#endif

}  // namespace

int64_t attention_bf16_scratch_floats(int64_t n_k, int64_t d) {
  const int64_t ldk = key_stride(n_k), nkp = round32(n_k), dq = round32(d), dv = round16(d);
  return dq / 2 * ldk        // key pairs
         + nkp / 2 * dv      // value pairs
         + kRows * ldk       // scores
         + kRows * ldk / 2   // probabilities (bf16)
         + kRows * dq / 2    // queries (bf16)
         + kRows * dv + 16;  // output tiles + alignment
}

bool attention_head_bf16(const float* q, int64_t ldq, const float* k, int64_t ldk_in,
                         const float* v, int64_t ldv, int64_t n_q, int64_t n_k, int64_t d,
                         float scale, const GridBias* bias, float* o, int64_t ldo, float* scratch) {
#if defined(DSVL_HAVE_BF16_ATTENTION)
  // Up to four 16-column output vectors (d ≤ 64: SigLIP-L and SAM-B heads are 64 wide).
  if (d <= 0 || d > 64 || n_k <= 0) return false;
  const detail::Bf16Kernel kernel = detail::bf16_kernel();
#if defined(DSVL_HAVE_AMX)
  const bool amx = kernel == detail::Bf16Kernel::kAmx;  // only where the tiles are usable
#else
  const bool amx = false;
#endif
#if defined(__AVX512BF16__)
  const bool dot = kernel == detail::Bf16Kernel::kDot;
#else
  const bool dot = false;
#endif
  if (!amx && !dot) return false;
  const int64_t ldk = key_stride(n_k), nkp = round32(n_k), dq = round32(d), dv = round16(d);
  auto* base =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  auto* Kv = reinterpret_cast<uint32_t*>(base);  // [dq/2][ldk]: (k[j][2p], k[j][2p+1]) at p, j
  uint32_t* Vv = Kv + dq / 2 * ldk;              // [nkp/2][dv]: (v[2i][c], v[2i+1][c]) at i, c
  auto* S = reinterpret_cast<float*>(Vv + nkp / 2 * dv);   // [32][ldk] scores, then probs
  auto* P = reinterpret_cast<uint16_t*>(S + kRows * ldk);  // [32][ldk] bf16 probabilities
  uint16_t* Qb = P + kRows * ldk;                          // [32][dq] bf16 scaled queries
  float* Ot = reinterpret_cast<float*>(Qb + kRows * dq);   // [dv/16][32][16] output tiles

  pack_key_pairs(k, ldk_in, n_k, nkp, d, dq, Kv, ldk);
  pack_value_pairs(v, ldv, n_k, nkp, d, dv, Vv);

#if defined(DSVL_HAVE_AMX)
  if (amx) {
    detail::amx_load_tile_config();
    for (int64_t i0 = 0; i0 < n_q; i0 += kRows) {
      const int64_t bq = std::min(kRows, n_q - i0);
      round_queries(q, ldq, i0, bq, kRows, d, dq, scale, Qb);
      scores(Qb, dq, Kv, ldk, nkp, S);
      probabilities(S, ldk, i0, bq, kRows, n_k, nkp, bias, P);
      probs_times_values(P, ldk, Vv, dv, nkp, Ot);
      for (int64_t r = 0; r < bq; ++r)
        for (int t = 0; t < int(dv / 16); ++t)
          std::memcpy(o + (i0 + r) * ldo + 16 * t, Ot + t * 512 + r * 16,
                      size_t(std::min<int64_t>(16, d - 16 * t)) * sizeof(float));
    }
    _tile_release();
    return true;
  }
#endif
#if defined(__AVX512BF16__)
  // Blocks of kDotRows query rows; the last block runs only the passes its rows need.
  for (int64_t i0 = 0; i0 < n_q; i0 += kDotRows) {
    const int64_t bq = std::min(kDotRows, n_q - i0);
    const int64_t rows = (bq + kDotScoreRows - 1) / kDotScoreRows * kDotScoreRows;
    round_queries(q, ldq, i0, bq, rows, d, dq, scale, Qb);
    for (int64_t r = 0; r < rows; r += kDotScoreRows)
      scores_dot(Qb + r * dq, dq, Kv, ldk, nkp, S + r * ldk);
    probabilities(S, ldk, i0, bq, rows, n_k, nkp, bias, P);
    for (int64_t r = 0; r < bq; r += kDotPvRows)
      probs_times_values_dot(P + r * ldk, ldk, Vv, dv, nkp,
                             int(std::min<int64_t>(kDotPvRows, bq - r)), d, o + (i0 + r) * ldo,
                             ldo);
  }
#endif
  (void)Ot;
  return true;
#else
  (void)q, (void)ldq, (void)k, (void)ldk_in, (void)v, (void)ldv, (void)n_q, (void)n_k, (void)d,
      (void)scale, (void)bias, (void)o, (void)ldo, (void)scratch;
  return false;
#endif
}

}  // namespace dsvl::kernels
