// The bf16-cache attention task. Each key and value row is read (and widened to float32 by a
// 16-bit shift) once per task and reused by every query row of the block, so decode streams
// the cache once per step at half the bytes of a float32 cache.
//
// Row invariance: every score is one dot product in a fixed order (chunks of 16 lanes, then a
// fixed horizontal sum), every softmax runs over one row with that row's key count, and every
// output lane accumulates p_j·v_j over j = 0, 1, … with one FMA each — whichever rows share the
// task or how rows are paired, so a row's result depends only on its own inputs.
#include "kernels/cpu/causal_attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dtype.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels::detail {
namespace {

#if defined(__AVX512F__)

// Masks of the NC 16-lane chunks of a d-wide row (all full but maybe the last).
template <int NC>
struct Chunks {
  __mmask16 m[NC];
  explicit Chunks(int d) {
    for (int c = 0; c < NC; ++c) m[c] = simd::mask16(d - 16 * c);
  }
};

// Sums each of 16 vectors (one per key) into lane j of the result: a butterfly over the lane
// bits 3, 2, 1, 0 (the pairing of simd::hsum), then lanes put back in key order. Key j's sum
// depends only on a[j].
inline __m512 reduce16(__m512 a[16]) {
  __m512 c[8], e[4], g[2];
  for (int m = 0; m < 8; ++m)
    c[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xEE));
  for (int m = 0; m < 4; ++m)
    e[m] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * m], c[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(c[2 * m], c[2 * m + 1], 0xDD));
  for (int m = 0; m < 2; ++m) {
    const __m512d x = _mm512_castps_pd(e[2 * m]), y = _mm512_castps_pd(e[2 * m + 1]);
    g[m] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  const __m512 h =
      _mm512_add_ps(_mm512_shuffle_ps(g[0], g[1], 0x88), _mm512_shuffle_ps(g[0], g[1], 0xDD));
  // Lane 4q + t holds key q + 4t.
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, h);
}

// scores[i·lds + j] = (q_i · k_j) / √d for every row i and key j < keys0 + n_rows − 1 (row i
// uses the first keys0 + i). Keys go in groups of 16 aligned to position 0, widened once into
// kbuf; each row accumulates one FMA chain per key (d order), and reduce16 sums the group into
// one vector. So a score depends only on its row and key, never on the block or call shape.
template <int NC>
void scores_rows(const float* q, int64_t ldq, int64_t n_rows, int64_t keys0, const uint16_t* k,
                 int d, const Chunks<NC>& ch, float* s, int64_t lds) {
  constexpr int kW = 16 * NC;
  const int64_t k_end = keys0 + n_rows - 1;
  const __m512 sqrt_d = _mm512_set1_ps(float(std::sqrt(double(d))));
  alignas(64) float kbuf[16 * kW];
  for (int64_t j0 = 0; j0 < k_end; j0 += 16) {
    const int nk = int(std::min<int64_t>(16, k_end - j0));
    for (int t = 0; t < 16; ++t)
      for (int c = 0; c < NC; ++c)
        _mm512_store_ps(
            kbuf + t * kW + 16 * c,
            t < nk ? simd::load_bf16(k + (j0 + t) * d + 16 * c, ch.m[c]) : _mm512_setzero_ps());
    // Rows that see at least key j0.
    for (int64_t i = std::max<int64_t>(0, j0 - keys0 + 1); i < n_rows; ++i) {
      const float* qi = q + i * ldq;
      __m512 qr[NC], acc[16];
      for (int c = 0; c < NC; ++c) qr[c] = _mm512_maskz_loadu_ps(ch.m[c], qi + 16 * c);
      for (int t = 0; t < 16; ++t) {
        acc[t] = _mm512_mul_ps(qr[0], _mm512_load_ps(kbuf + t * kW));
        for (int c = 1; c < NC; ++c)
          acc[t] = _mm512_fmadd_ps(qr[c], _mm512_load_ps(kbuf + t * kW + 16 * c), acc[t]);
      }
      // HF: matmul(q, kᵀ) / sqrt(head_dim)
      _mm512_mask_storeu_ps(s + i * lds + j0, simd::mask16(nk),
                            _mm512_div_ps(reduce16(acc), sqrt_d));
    }
  }
}

// In-place softmax of one row of n scores (n ≥ 1); the probabilities sum to 1.
void softmax_row_bf16(float* s, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mx = ninf;
  for (int64_t j = 0; j < n; j += 16)
    mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, simd::mask16(int(n - j)), s + j));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mk = simd::mask16(int(n - j));
    const __m512 e = vecmath::exp16(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, mk, s + j), m));
    _mm512_mask_storeu_ps(s + j, mk, e);
    sum = _mm512_mask_add_ps(sum, mk, sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / simd::hsum(sum));
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mk = simd::mask16(int(n - j));
    _mm512_mask_storeu_ps(s + j, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, s + j), inv));
  }
}

// out_r = Σ_j p_r[j] · v_j for R consecutive rows (row r has n0 + r keys), chunks [c0, c0+NG).
// The keys all rows see run without per-row tests so the accumulators stay in registers.
template <int NC, int NG, int R>
void pv_rows(const float* const* p, int64_t n0, const uint16_t* v, int d, const Chunks<NC>& ch,
             int c0, float* const* out) {
  __m512 acc[R][NG];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NG; ++c) acc[r][c] = _mm512_setzero_ps();
  const uint16_t* vc = v + 16 * c0;
  for (int64_t j = 0; j < n0; ++j) {
    __m512 pr[R];
    for (int r = 0; r < R; ++r) pr[r] = _mm512_set1_ps(p[r][j]);
    for (int c = 0; c < NG; ++c) {
      const __m512 x = simd::load_bf16(vc + j * d + 16 * c, ch.m[c0 + c]);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(pr[r], x, acc[r][c]);
    }
  }
  // Keys n0 … n0 + R − 2: only the later rows see them.
  for (int64_t j = n0; j < n0 + R - 1; ++j)
    for (int c = 0; c < NG; ++c) {
      const __m512 x = simd::load_bf16(vc + j * d + 16 * c, ch.m[c0 + c]);
      for (int r = int(j - n0) + 1; r < R; ++r)
        acc[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), x, acc[r][c]);
    }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NG; ++c)
      _mm512_mask_storeu_ps(out[r] + 16 * (c0 + c), ch.m[c0 + c], acc[r][c]);
}

// p·v for all rows of the block, value chunks [c0, c0 + NG): rows in pairs where they fit.
template <int NC, int NG>
void pv_block(const float* s, int64_t lds, float* out, int64_t ldo, int64_t n_rows, int64_t keys0,
              const uint16_t* v, int d, const Chunks<NC>& ch, int c0) {
  constexpr int kR = NG <= 8 ? 2 : 1;
  int64_t i = 0;
  for (; i + kR <= n_rows; i += kR) {
    const float* p[kR];
    float* o[kR];
    for (int r = 0; r < kR; ++r) p[r] = s + (i + r) * lds, o[r] = out + (i + r) * ldo;
    pv_rows<NC, NG, kR>(p, keys0 + i, v, d, ch, c0, o);
  }
  for (; i < n_rows; ++i) {
    const float* p[1] = {s + i * lds};
    float* o[1] = {out + i * ldo};
    pv_rows<NC, NG, 1>(p, keys0 + i, v, d, ch, c0, o);
  }
}

template <int NC>
void attend(const float* q, int64_t ldq, float* out, int64_t ldo, int64_t n_rows, int64_t keys0,
            const uint16_t* k, const uint16_t* v, int d, float* s) {
  const Chunks<NC> ch(d);
  const int64_t lds = keys0 + n_rows - 1;
  // Query rows are ldq apart (all heads side by side: 8 KiB for the 1.3B model), so a block
  // of them would share a handful of L1 sets; copy up to kSub rows next to each other.
  constexpr int kSub = 16, kW = 16 * NC;
  alignas(64) float qbuf[kSub * kW];
  for (int64_t i0 = 0; i0 < n_rows; i0 += kSub) {
    const int64_t m = std::min<int64_t>(kSub, n_rows - i0);
    for (int64_t i = 0; i < m; ++i)
      std::copy(q + (i0 + i) * ldq, q + (i0 + i) * ldq + d, qbuf + i * kW);
    scores_rows<NC>(qbuf, kW, m, keys0 + i0, k, d, ch, s + i0 * lds, lds);
  }
  for (int64_t i = 0; i < n_rows; ++i) softmax_row_bf16(s + i * lds, keys0 + i);
  // Value chunks in groups of ≤ 8 (the accumulators of two rows fit the 32 registers).
  constexpr int kG = NC < 8 ? NC : 8, kRem = NC % kG;
  for (int c0 = 0; c0 + kG <= NC; c0 += kG)
    pv_block<NC, kG>(s, lds, out, ldo, n_rows, keys0, v, d, ch, c0);
  if constexpr (kRem > 0) pv_block<NC, kRem>(s, lds, out, ldo, n_rows, keys0, v, d, ch, NC - kRem);
}

using AttendFn = void (*)(const float*, int64_t, float*, int64_t, int64_t, int64_t, const uint16_t*,
                          const uint16_t*, int, float*);
constexpr AttendFn kAttend[16] = {
    attend<1>, attend<2>,  attend<3>,  attend<4>,  attend<5>,  attend<6>,  attend<7>,  attend<8>,
    attend<9>, attend<10>, attend<11>, attend<12>, attend<13>, attend<14>, attend<15>, attend<16>};

#endif  // __AVX512F__

// Portable form of the same arithmetic, for builds without AVX-512 and head_dim > 256.
void attend_scalar(const float* q, int64_t ldq, float* out, int64_t ldo, int64_t n_rows,
                   int64_t keys0, const uint16_t* k, const uint16_t* v, int d, float* s) {
  const float sqrt_d = float(std::sqrt(double(d)));
  for (int64_t i = 0; i < n_rows; ++i) {
    const int64_t n = keys0 + i;
    const float* qi = q + i * ldq;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int c = 0; c < d; ++c) acc += qi[c] * bf16_to_f32(k[j * d + c]);
      s[j] = acc / sqrt_d;
      mx = std::max(mx, s[j]);
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) sum += (s[j] = vecmath::exp_scalar(s[j] - mx));
    const float inv = 1.0f / sum;
    float* o = out + i * ldo;
    std::fill(o, o + d, 0.0f);
    for (int64_t j = 0; j < n; ++j)
      for (int c = 0; c < d; ++c) o[c] += s[j] * inv * bf16_to_f32(v[j * d + c]);
  }
}

}  // namespace

void attend_rows_bf16(const float* q, int64_t ldq, float* out, int64_t ldo, int64_t n_rows,
                      int64_t keys0, const uint16_t* k, const uint16_t* v, int d, float* scores) {
#if defined(__AVX512F__)
  const int nc = (d + 15) / 16;
  if (nc >= 1 && nc <= 16) return kAttend[nc - 1](q, ldq, out, ldo, n_rows, keys0, k, v, d, scores);
#endif
  attend_scalar(q, ldq, out, ldo, n_rows, keys0, k, v, d, scores);
}

}  // namespace dsvl::kernels::detail
