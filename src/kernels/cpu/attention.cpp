#if defined(__AVX512F__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "kernels/cpu/simd.h"
#include "kernels/cpu/softmax.h"

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
             int64_t K, __mmask16 tail) {
  // Fully unrolled so the accumulators stay in registers (without the pragmas GCC 12 spills
  // them to the stack on every k step).
  __m512 acc[MR][NV];
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
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
                  int64_t ldc, int64_t K, __mmask16 tail) {
  switch (mr) {
    case 1:
      return nn_tile<1, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 2:
      return nn_tile<2, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 3:
      return nn_tile<3, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 4:
      return nn_tile<4, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 5:
      return nn_tile<5, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 6:
      return nn_tile<6, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 7:
      return nn_tile<7, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 8:
      return nn_tile<8, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 9:
      return nn_tile<9, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 10:
      return nn_tile<10, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 11:
      return nn_tile<11, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 12:
      return nn_tile<12, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 13:
      return nn_tile<13, NV>(A, lda, B, ldb, C, ldc, K, tail);
    default:
      return nn_tile<kMR, NV>(A, lda, B, ldb, C, ldc, K, tail);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
// AVX2 (16 ymm): kMR rows × 16 columns in 12 accumulators; per k two B loads, kMR broadcasts.
constexpr int kMR = 6;

// C[MR, NV·8] = A[MR, K]·B[K, NV·8]; the last 8-column vector is masked by `tail`.
template <int MR, int NV>
void nn_tile(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t K, __m256i tail) {
  __m256 acc[MR][NV];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m256 b[NV];
    if constexpr (NV == 2) b[0] = _mm256_loadu_ps(B + k * ldb);
    b[NV - 1] = _mm256_maskload_ps(B + k * ldb + 8 * (NV - 1), tail);
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
    _mm256_maskstore_ps(C + r * ldc + 8 * (NV - 1), tail, acc[r][NV - 1]);
  }
}

template <int NV>
void nn_tile_rows(int mr, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                  int64_t ldc, int64_t K, __m256i tail) {
  switch (mr) {
    case 1:
      return nn_tile<1, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 2:
      return nn_tile<2, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 3:
      return nn_tile<3, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 4:
      return nn_tile<4, NV>(A, lda, B, ldb, C, ldc, K, tail);
    case 5:
      return nn_tile<5, NV>(A, lda, B, ldb, C, ldc, K, tail);
    default:
      return nn_tile<kMR, NV>(A, lda, B, ldb, C, ldc, K, tail);
  }
}
#endif

// Query rows per block: one register tile of rows; the [kBlockRows, n_k] score block stays in
// L2 (14 × 4096 × 4 = 224 KB).
#if defined(__AVX512F__)
constexpr int64_t kBlockRows = kMR;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int64_t kBlockRows = 2 * kMR;
#else
constexpr int64_t kBlockRows = 16;
#endif

}  // namespace

void gemm_nn(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K) {
#if defined(__AVX512F__)
  for (int64_t j = 0; j < N; j += 32) {
    const int64_t nc = std::min<int64_t>(32, N - j);
    const int64_t rem = nc > 16 ? nc - 16 : nc;
    const __mmask16 tail = rem == 16 ? __mmask16(0xffff) : __mmask16((1u << rem) - 1);
    for (int64_t i = 0; i < M; i += kMR) {
      const int mr = int(std::min<int64_t>(kMR, M - i));
      if (nc > 16)
        nn_tile_rows<2>(mr, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, K, tail);
      else
        nn_tile_rows<1>(mr, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, K, tail);
    }
  }
#elif defined(__AVX2__) && defined(__FMA__)
  for (int64_t j = 0; j < N; j += 16) {
    const int64_t nc = std::min<int64_t>(16, N - j);
    const __m256i tail = simd::mask8(int(nc > 8 ? nc - 8 : nc));
    for (int64_t i = 0; i < M; i += kMR) {
      const int mr = int(std::min<int64_t>(kMR, M - i));
      if (nc > 8)
        nn_tile_rows<2>(mr, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, K, tail);
      else
        nn_tile_rows<1>(mr, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, K, tail);
    }
  }
#else
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    std::fill(c, c + N, 0.0f);
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

void add_grid_bias(const GridBias& bias, int64_t i, float* row) {
  const float* rh = bias.rel_h + i * bias.kh;
  const float* rw = bias.rel_w + i * bias.kw;
  for (int64_t y = 0; y < bias.kh; ++y) {
    float* seg = row + y * bias.kw;
    const float h = rh[y];
    for (int64_t x = 0; x < bias.kw; ++x) seg[x] = (seg[x] + h) + rw[x];
  }
}

int64_t attention_scratch_floats(int64_t n_k, int64_t d) {
  return std::max(
      d * padded_stride(n_k) + n_k * d + kBlockRows * d + kBlockRows * padded_stride(n_k),
      attention_bf16_scratch_floats(n_k, d));
}

void attention_head(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                    int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                    const GridBias* bias, float* o, int64_t ldo, float* scratch, Precision p) {
  if (p == Precision::kBF16 &&
      attention_head_bf16(q, ldq, k, ldk, v, ldv, n_q, n_k, d, scale, bias, o, ldo, scratch))
    return;
  const int64_t ld = padded_stride(n_k);
  float* kT = scratch;             // [d, ld]: keys transposed so q·kᵀ is an NN product
  float* vc = kT + d * ld;         // [n_k, d]: values packed contiguously (streamed by P·v)
  float* qs = vc + n_k * d;        // [kBlockRows, d]: scaled queries of the block
  float* s = qs + kBlockRows * d;  // [kBlockRows, ld]: scores, then probabilities
  for (int64_t j = 0; j < n_k; ++j) {
    for (int64_t c = 0; c < d; ++c) kT[c * ld + j] = k[j * ldk + c];
    for (int64_t c = 0; c < d; ++c) vc[j * d + c] = v[j * ldv + c];
  }

  for (int64_t i0 = 0; i0 < n_q; i0 += kBlockRows) {
    const int64_t bq = std::min(kBlockRows, n_q - i0);
    for (int64_t r = 0; r < bq; ++r)
      for (int64_t c = 0; c < d; ++c) qs[r * d + c] = q[(i0 + r) * ldq + c] * scale;
    gemm_nn(qs, d, kT, ld, s, ld, bq, n_k, d);
    for (int64_t r = 0; r < bq; ++r) {
      float* row = s + r * ld;
      if (bias) add_grid_bias(*bias, i0 + r, row);
      softmax_row(row, n_k);
    }
    gemm_nn(s, ld, vc, d, o + i0 * ldo, ldo, bq, d, n_k);
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
