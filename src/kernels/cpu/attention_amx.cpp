// The bf16 flavour of attention_head on AMX tiles (see attention.h): q·scale, k, v and the
// probabilities are rounded to bf16, products accumulate in float32 tiles, the bias and the
// softmax stay float32. Per head, the keys are laid out as tile "B" operands once — pairs of
// feature columns, [d/2][n_k] — and so are the values — pairs of key rows, [n_k/2][d] —
// then each block of 16 query rows is two tile passes: scores = Q·Kᵀ, probabilities P·V.
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

constexpr int64_t kRows = 16;  // query rows per block: one tile of rows

int64_t round32(int64_t n) { return (n + 31) / 32 * 32; }
// Row stride (uint32 / float elements) of the key pairs and the score block: a multiple of 16
// plus 16, so rows 4 KB apart do not share L1 sets.
int64_t key_stride(int64_t n_k) { return round32(n_k) + 16; }

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

#if defined(DSVL_HAVE_AMX)
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
#if defined(DSVL_HAVE_AMX)
  // Up to four 16-column output tiles (d ≤ 64: SigLIP-L and SAM-B heads are 64 wide).
  if (d <= 0 || d > 64 || n_k <= 0 || !detail::amx_usable() ||
      detail::bf16_kernel() != detail::Bf16Kernel::kAmx)
    return false;
  const int64_t ldk = key_stride(n_k), nkp = round32(n_k), dq = round32(d), dv = round16(d);
  auto* base =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  auto* Kv = reinterpret_cast<uint32_t*>(base);  // [dq/2][ldk]: (k[j][2p], k[j][2p+1]) at p, j
  uint32_t* Vv = Kv + dq / 2 * ldk;              // [nkp/2][dv]: (v[2i][c], v[2i+1][c]) at i, c
  auto* S = reinterpret_cast<float*>(Vv + nkp / 2 * dv);   // [16][ldk] scores, then probs
  auto* P = reinterpret_cast<uint16_t*>(S + kRows * ldk);  // [16][ldk] bf16 probabilities
  uint16_t* Qb = P + kRows * ldk;                          // [16][dq] bf16 scaled queries
  float* Ot = reinterpret_cast<float*>(Qb + kRows * dq);   // [dv/16][16][16] output tiles

  pack_key_pairs(k, ldk_in, n_k, nkp, d, dq, Kv, ldk);
  pack_value_pairs(v, ldv, n_k, nkp, d, dv, Vv);

  detail::amx_load_tile_config();  // tiles 0-3 accumulators, 4 A, 5-7 B operands
  for (int64_t i0 = 0; i0 < n_q; i0 += kRows) {
    const int64_t bq = std::min(kRows, n_q - i0);
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t c = 0; c < dq; c += 32)  // rows past the queries: zero (nothing is read)
        round_row32(r < bq ? q + (i0 + r) * ldq + c : q, r < bq ? d - c : 0, scale,
                    Qb + r * dq + c);
    // Scores: 16 rows × 16 keys per tile, over d in steps of 32 features (16 pairs).
    for (int64_t j = 0; j < nkp; j += 16) {
      _tile_zero(0);
      for (int64_t c = 0; c < dq; c += 32) {
        _tile_loadd(4, Qb + c, int(dq * 2));
        _tile_loadd(5, Kv + c / 2 * ldk + j, int(ldk * 4));
        _tile_dpbf16ps(0, 4, 5);
      }
      _tile_stored(0, S + j, int(ldk * 4));
    }
    for (int64_t r = 0; r < kRows; ++r) {
      float* row = S + r * ldk;
      uint16_t* prow = P + r * ldk;
      if (r < bq) {
        if (bias) add_grid_bias(*bias, i0 + r, 0, n_k, row);
        softmax_row(row, n_k);
        for (int64_t j = 0; j < nkp; j += 32)
          round_row32(row + j, std::min<int64_t>(32, n_k - j), 1.0f, prow + j);
      } else {
        std::fill(prow, prow + nkp, uint16_t(0));
      }
    }
    // Output: d/16 accumulator tiles, over the keys in steps of 32 (16 value pairs).
    const int nt = int(dv / 16);
    for (int t = 0; t < nt; ++t) {
      if (t == 0) _tile_zero(0);
      if (t == 1) _tile_zero(1);
      if (t == 2) _tile_zero(2);
      if (t == 3) _tile_zero(3);
    }
    for (int64_t j = 0; j < nkp; j += 32) {
      _tile_loadd(4, P + j, int(ldk * 2));
      const uint32_t* vb = Vv + j / 2 * dv;
      _tile_loadd(5, vb, int(dv * 4));
      _tile_dpbf16ps(0, 4, 5);
      if (nt > 1) {
        _tile_loadd(6, vb + 16, int(dv * 4));
        _tile_dpbf16ps(1, 4, 6);
      }
      if (nt > 2) {
        _tile_loadd(7, vb + 32, int(dv * 4));
        _tile_dpbf16ps(2, 4, 7);
      }
      if (nt > 3) {
        _tile_loadd(5, vb + 48, int(dv * 4));
        _tile_dpbf16ps(3, 4, 5);
      }
    }
    _tile_stored(0, Ot, 64);
    if (nt > 1) _tile_stored(1, Ot + 256, 64);
    if (nt > 2) _tile_stored(2, Ot + 512, 64);
    if (nt > 3) _tile_stored(3, Ot + 768, 64);
    for (int64_t r = 0; r < bq; ++r)
      for (int t = 0; t < nt; ++t)
        std::memcpy(o + (i0 + r) * ldo + 16 * t, Ot + t * 256 + r * 16,
                    size_t(std::min<int64_t>(16, d - 16 * t)) * sizeof(float));
  }
  _tile_release();
  return true;
#else
  (void)q, (void)ldq, (void)k, (void)ldk_in, (void)v, (void)ldv, (void)n_q, (void)n_k, (void)d,
      (void)scale, (void)bias, (void)o, (void)ldo, (void)scratch;
  return false;
#endif
}

}  // namespace dsvl::kernels
