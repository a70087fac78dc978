// The bf16-cache attention task: scores by the bf16 GEMM (q rounded to bf16, the cached keys as
// stored; AMX tiles where available), softmax in float32, then p·v with each value row read
// (and widened to float32 by a 16-bit shift) once per task and reused by every query row of
// the block, so decode streams the cache once per step at half the bytes of a float32 cache.
//
// Row invariance: every score comes from the bf16 GEMM, whose per-element result does not
// depend on the rows sharing the call; every softmax runs over one row with that row's key
// count; every output lane accumulates p_j·v_j over j = 0, 1, … with one FMA each — whichever
// rows share the task or how rows are paired, so a row's result depends only on its inputs.
#include "kernels/cpu/causal_attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/causal_attention.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels::detail {
namespace {

// One kv head's bf16 values (kv_value_index's layout: blocks of `block` lanes, each
// [position][block]). lane(c) is lane c of position 0; position j is j·block on.
struct ValueLanes {
  const uint16_t* v;
  int64_t head_stride;  // the AttentionJob's kv_head_stride
  int d;
  int block = kv_value_block(d);
  const uint16_t* lane(int c) const { return v + kv_value_index(head_stride, d, 0, c); }
};

#if defined(__AVX512F__)

// Masks of the NC 16-lane chunks of a d-wide row (all full but maybe the last).
template <int NC>
struct Chunks {
  __mmask16 m[NC];
  explicit Chunks(int d) {
    for (int c = 0; c < NC; ++c) m[c] = simd::mask16(d - 16 * c);
  }
};

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
void pv_rows(const float* const* p, int64_t n0, const ValueLanes& v, const Chunks<NC>& ch, int c0,
             float* const* out) {
  __m512 acc[R][NG];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NG; ++c) acc[r][c] = _mm512_setzero_ps();
  const uint16_t* vc[NG];  // chunk c's lanes at position 0 (a block holds whole chunks)
  for (int c = 0; c < NG; ++c) vc[c] = v.lane(16 * (c0 + c));
  const int64_t ld = v.block;
  for (int64_t j = 0; j < n0; ++j) {
    __m512 pr[R];
    for (int r = 0; r < R; ++r) pr[r] = _mm512_set1_ps(p[r][j]);
    for (int c = 0; c < NG; ++c) {
      const __m512 x = simd::load_bf16(vc[c] + j * ld, ch.m[c0 + c]);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(pr[r], x, acc[r][c]);
    }
  }
  // Keys n0 … n0 + R − 2: only the later rows see them.
  for (int64_t j = n0; j < n0 + R - 1; ++j)
    for (int c = 0; c < NG; ++c) {
      const __m512 x = simd::load_bf16(vc[c] + j * ld, ch.m[c0 + c]);
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
              const ValueLanes& v, const Chunks<NC>& ch, int c0) {
  constexpr int kR = NG <= 8 ? 2 : 1;
  int64_t i = 0;
  for (; i + kR <= n_rows; i += kR) {
    const float* p[kR];
    float* o[kR];
    for (int r = 0; r < kR; ++r) p[r] = s + (i + r) * lds, o[r] = out + (i + r) * ldo;
    pv_rows<NC, NG, kR>(p, keys0 + i, v, ch, c0, o);
  }
  for (; i < n_rows; ++i) {
    const float* p[1] = {s + i * lds};
    float* o[1] = {out + i * ldo};
    pv_rows<NC, NG, 1>(p, keys0 + i, v, ch, c0, o);
  }
}

// Blocks of at least this many rows (prefill) widen the value rows once into float32 and run
// p·v as a register-tiled GEMM (gemm_nn); smaller ones (decode) stream the cache (pv_rows).
// Both compute each output lane as one FMA chain over keys 0, 1, … starting from zero, on the
// same floats (widening bf16 is exact), and the zero probabilities gemm_nn sees past a row's
// keys add nothing: a row's result is bit-identical either way.
constexpr int64_t kWidenRows = 8;

// Softmax of each row's causal scores, then p·v.
template <int NC>
void softmax_pv(float* s, int64_t lds, float* out, int64_t ldo, int64_t n_rows, int64_t keys0,
                const ValueLanes& v, int d) {
  const Chunks<NC> ch(d);
  for (int64_t i = 0; i < n_rows; ++i) softmax_row_bf16(s + i * lds, keys0 + i);
  if (n_rows >= kWidenRows) {
    const int64_t k_end = keys0 + n_rows - 1;
    thread_local std::vector<float> vbuf;
    float* vf = scratch(vbuf, size_t(k_end * d));
    for (int b = 0; b < d; b += v.block) {  // each block read in its order
      const uint16_t* vb = v.lane(b);
      for (int64_t j = 0; j < k_end; ++j)
        for (int c = b / 16; c < (b + v.block + 15) / 16; ++c)
          _mm512_mask_storeu_ps(vf + j * d + 16 * c, ch.m[c],
                                simd::load_bf16(vb + j * v.block + 16 * c - b, ch.m[c]));
    }
    for (int64_t i = 0; i < n_rows; ++i)
      std::fill(s + i * lds + keys0 + i, s + i * lds + k_end, 0.0f);
    gemm_nn(s, lds, vf, d, out, ldo, n_rows, d, k_end);
    return;
  }
  // Value chunks in groups of ≤ 8 (the accumulators of two rows fit the 32 registers).
  constexpr int kG = NC < 8 ? NC : 8, kRem = NC % kG;
  for (int c0 = 0; c0 + kG <= NC; c0 += kG)
    pv_block<NC, kG>(s, lds, out, ldo, n_rows, keys0, v, ch, c0);
  if constexpr (kRem > 0) pv_block<NC, kRem>(s, lds, out, ldo, n_rows, keys0, v, ch, NC - kRem);
}

using SoftmaxPvFn = void (*)(float*, int64_t, float*, int64_t, int64_t, int64_t, const ValueLanes&,
                             int);
constexpr SoftmaxPvFn kSoftmaxPv[16] = {
    softmax_pv<1>,  softmax_pv<2>,  softmax_pv<3>,  softmax_pv<4>,  softmax_pv<5>,  softmax_pv<6>,
    softmax_pv<7>,  softmax_pv<8>,  softmax_pv<9>,  softmax_pv<10>, softmax_pv<11>, softmax_pv<12>,
    softmax_pv<13>, softmax_pv<14>, softmax_pv<15>, softmax_pv<16>};

#elif defined(__AVX2__) && defined(__FMA__)

// AVX2 (head_dim a multiple of 8): the same steps as the AVX-512 code above, on 8 lanes.
void softmax_row_bf16(float* s, int64_t n) {
  int64_t j = 0;
  float mx = -std::numeric_limits<float>::infinity();
  __m256 vmx = _mm256_set1_ps(mx);
  for (; j + 8 <= n; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + j));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmx);
  for (const float l : lanes) mx = std::max(mx, l);
  for (; j < n; ++j) mx = std::max(mx, s[j]);
  const __m256 m = _mm256_set1_ps(mx);
  __m256 vs = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 e = vecmath::exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), m));
    _mm256_storeu_ps(s + j, e);
    vs = _mm256_add_ps(vs, e);
  }
  float sum = simd::hsum(vs);
  for (; j < n; ++j) sum += (s[j] = vecmath::exp_scalar(s[j] - mx));
  const float inv = 1.0f / sum;
  for (j = 0; j + 8 <= n; j += 8)
    _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), _mm256_set1_ps(inv)));
  for (; j < n; ++j) s[j] *= inv;
}

// out = Σ_j p[j]·v_j over n keys, value lanes [c0, c0 + 8·NG) (within one block): one FMA
// chain per lane.
template <int NG>
void pv_row(const float* p, int64_t n, const ValueLanes& v, int c0, float* out) {
  __m256 acc[NG];
  for (auto& a : acc) a = _mm256_setzero_ps();
  const uint16_t* vc = v.lane(c0);
  const int64_t ld = v.block;
  for (int64_t j = 0; j < n; ++j) {
    const __m256 pj = _mm256_broadcast_ss(p + j);
    for (int c = 0; c < NG; ++c)
      acc[c] = _mm256_fmadd_ps(pj, simd::load_bf16(vc + j * ld + 8 * c), acc[c]);
  }
  for (int c = 0; c < NG; ++c) _mm256_storeu_ps(out + c0 + 8 * c, acc[c]);
}

constexpr int64_t kWidenRows = 8;  // as above: prefill blocks widen v and run gemm_nn

void softmax_pv_avx2(float* s, int64_t lds, float* out, int64_t ldo, int64_t n_rows, int64_t keys0,
                     const ValueLanes& v, int d) {
  for (int64_t i = 0; i < n_rows; ++i) softmax_row_bf16(s + i * lds, keys0 + i);
  if (n_rows >= kWidenRows) {
    const int64_t k_end = keys0 + n_rows - 1;
    thread_local std::vector<float> vbuf;
    float* vf = scratch(vbuf, size_t(k_end * d));
    for (int b = 0; b < d; b += v.block) {  // each block read in its order
      const uint16_t* vb = v.lane(b);
      for (int64_t j = 0; j < k_end; ++j)
        for (int c = 0; c < v.block; c += 8)
          _mm256_storeu_ps(vf + j * d + b + c, simd::load_bf16(vb + j * v.block + c));
    }
    for (int64_t i = 0; i < n_rows; ++i)
      std::fill(s + i * lds + keys0 + i, s + i * lds + k_end, 0.0f);
    gemm_nn(s, lds, vf, d, out, ldo, n_rows, d, k_end);
    return;
  }
  for (int64_t i = 0; i < n_rows; ++i) {
    int c0 = 0;
    for (; c0 + 64 <= d; c0 += 64) pv_row<8>(s + i * lds, keys0 + i, v, c0, out + i * ldo);
    for (; c0 < d; c0 += 8) pv_row<1>(s + i * lds, keys0 + i, v, c0, out + i * ldo);
  }
}

#endif  // __AVX512F__ / __AVX2__

// Portable form of the softmax and p·v, for builds without AVX-512 or AVX2 and head_dims the
// vector forms do not take.
void softmax_pv_scalar(float* s, int64_t lds, float* out, int64_t ldo, int64_t n_rows,
                       int64_t keys0, const ValueLanes& v, int d) {
  for (int64_t i = 0; i < n_rows; ++i) {
    const int64_t n = keys0 + i;
    float* si = s + i * lds;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, si[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) sum += (si[j] = vecmath::exp_scalar(si[j] - mx));
    const float inv = 1.0f / sum;
    float* o = out + i * ldo;
    std::fill(o, o + d, 0.0f);
    for (int64_t j = 0; j < n; ++j)
      for (int c = 0; c < d; ++c) o[c] += si[j] * inv * bf16_to_f32(v.lane(c)[j * v.block]);
  }
}

}  // namespace

int64_t score_row_stride(int64_t n_keys) { return (n_keys + 15) / 16 * 16 + 16; }

void divide_scores(float* s, int64_t n, float sqrt_d) {
  int64_t j = 0;
#if defined(__AVX512F__)
  for (const __m512 div = _mm512_set1_ps(sqrt_d); j + 16 <= n; j += 16)
    _mm512_storeu_ps(s + j, _mm512_div_ps(_mm512_loadu_ps(s + j), div));
#elif defined(__AVX2__) && defined(__FMA__)
  for (const __m256 div = _mm256_set1_ps(sqrt_d); j + 8 <= n; j += 8)
    _mm256_storeu_ps(s + j, _mm256_div_ps(_mm256_loadu_ps(s + j), div));
#endif
  for (; j < n; ++j) s[j] = s[j] / sqrt_d;
}

void attend_rows_bf16(const float* q, int64_t ldq, float* out, int64_t ldo, int64_t n_rows,
                      int64_t keys0, const uint16_t* k, bool k_packed, const uint16_t* v,
                      int64_t v_head_stride, int d, float* scores) {
  // Scores of every row against keys [0, k_end) (a row then uses its first keys0 + i): q
  // rounded to bf16 as the official bf16 inference holds it, times the cached keys, summed in
  // float32 by the bf16 GEMM (AMX tiles where available), whose per-element result does not
  // depend on how many rows share the call, nor on whether the keys are packed (the packed
  // layout is a repacked weight's: the same bits, without transposing key rows).
  // HF: matmul(q, kᵀ) / sqrt(head_dim).
  const int64_t k_end = keys0 + n_rows - 1, lds = score_row_stride(k_end);
  gemm_bf16(q, ldq, BMatrix{DType::kBF16, k, d, k_packed}, scores, lds, n_rows, k_end, d,
            Epilogue{});
  const float sqrt_d = float(std::sqrt(double(d)));
  for (int64_t i = 0; i < n_rows; ++i) divide_scores(scores + i * lds, keys0 + i, sqrt_d);
  const ValueLanes vl{v, v_head_stride, d};
#if defined(__AVX512F__)
  const int nc = (d + 15) / 16;
  if (nc >= 1 && nc <= 16) return kSoftmaxPv[nc - 1](scores, lds, out, ldo, n_rows, keys0, vl, d);
#elif defined(__AVX2__) && defined(__FMA__)
  if (d % 8 == 0) return softmax_pv_avx2(scores, lds, out, ldo, n_rows, keys0, vl, d);
#endif
  softmax_pv_scalar(scores, lds, out, ldo, n_rows, keys0, vl, d);
}

}  // namespace dsvl::kernels::detail
