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

// scores[i·lds + j] = (q_i · k_j) / √d for every row i and visible key j < keys0 + i.
template <int NC>
void scores_rows(const float* q, int64_t ldq, int64_t n_rows, int64_t keys0, const uint16_t* k,
                 int d, const Chunks<NC>& ch, float* s, int64_t lds) {
  const int64_t k_end = keys0 + n_rows - 1;
  const float sqrt_d = float(std::sqrt(double(d)));
  for (int64_t j = 0; j < k_end; ++j) {
    __m512 kr[NC];
    for (int c = 0; c < NC; ++c) kr[c] = simd::load_bf16(k + j * d + 16 * c, ch.m[c]);
    for (int64_t i = std::max<int64_t>(0, j - keys0 + 1); i < n_rows; ++i) {
      const float* qi = q + i * ldq;
      __m512 acc = _mm512_mul_ps(_mm512_maskz_loadu_ps(ch.m[0], qi), kr[0]);
      for (int c = 1; c < NC; ++c)
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(ch.m[c], qi + 16 * c), kr[c], acc);
      s[i * lds + j] = simd::hsum(acc) / sqrt_d;  // HF: matmul(q, kᵀ) / sqrt(head_dim)
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

// out_r = Σ_j p_r[j] · v_j for R consecutive rows (row r has n0 + r keys), chunks [C0, C0+NG).
template <int NC, int NG, int R>
void pv_rows(const float* const* p, int64_t n0, const uint16_t* v, int d, const Chunks<NC>& ch,
             int c0, float* const* out) {
  __m512 acc[R][NG];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NG; ++c) acc[r][c] = _mm512_setzero_ps();
  const int64_t n_end = n0 + R - 1;
  for (int64_t j = 0; j < n_end; ++j) {
    const uint16_t* vj = v + j * d + 16 * c0;
    for (int c = 0; c < NG; ++c) {
      const __m512 x = simd::load_bf16(vj + 16 * c, ch.m[c0 + c]);
      for (int r = 0; r < R; ++r)
        if (j < n0 + r) acc[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), x, acc[r][c]);
    }
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
  scores_rows<NC>(q, ldq, n_rows, keys0, k, d, ch, s, lds);
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
