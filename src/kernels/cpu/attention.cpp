#if defined(__AVX512F__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/cpu/softmax.h"

namespace dsvl::kernels {
namespace {

// Query rows per block: the [kBlockRows, n_k] score block stays in L2 (16 × 4096 × 4 = 256 KB).
constexpr int64_t kBlockRows = 16;

#if defined(__AVX512F__)
// Tile of MR rows × NV·16 columns; the last 16-column vector is masked by `tail`.
template <int MR, int NV>
void nn_tile(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t K, __mmask16 tail) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
    for (int v = 0; v < NV; ++v)
      b[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail, B + k * ldb + 16 * v)
                         : _mm512_loadu_ps(B + k * ldb + 16 * v);
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + 16 * v;
      if (v == NV - 1)
        _mm512_mask_storeu_ps(c, tail, acc[r][v]);
      else
        _mm512_storeu_ps(c, acc[r][v]);
    }
}

template <int MR>
void nn_tile_cols(int nv, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                  int64_t ldc, int64_t K, __mmask16 tail) {
  switch (nv) {
    case 1:
      return nn_tile<MR, 1>(A, lda, B, ldb, C, ldc, K, tail);
    case 2:
      return nn_tile<MR, 2>(A, lda, B, ldb, C, ldc, K, tail);
    case 3:
      return nn_tile<MR, 3>(A, lda, B, ldb, C, ldc, K, tail);
    default:
      return nn_tile<MR, 4>(A, lda, B, ldb, C, ldc, K, tail);
  }
}
#endif

}  // namespace

void gemm_nn(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K) {
#if defined(__AVX512F__)
  // Column panels of 64 outermost so the B panel (K × 64) is reused by every row tile.
  for (int64_t j = 0; j < N; j += 64) {
    const int64_t nc = std::min<int64_t>(64, N - j);
    const int nv = int((nc + 15) / 16);
    const int64_t rem = nc - 16 * (nv - 1);
    const __mmask16 tail = rem == 16 ? __mmask16(0xffff) : __mmask16((1u << rem) - 1);
    for (int64_t i = 0; i < M; i += 4) {
      const float* a = A + i * lda;
      float* c = C + i * ldc + j;
      switch (std::min<int64_t>(4, M - i)) {
        case 1:
          nn_tile_cols<1>(nv, a, lda, B + j, ldb, c, ldc, K, tail);
          break;
        case 2:
          nn_tile_cols<2>(nv, a, lda, B + j, ldb, c, ldc, K, tail);
          break;
        case 3:
          nn_tile_cols<3>(nv, a, lda, B + j, ldb, c, ldc, K, tail);
          break;
        default:
          nn_tile_cols<4>(nv, a, lda, B + j, ldb, c, ldc, K, tail);
          break;
      }
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

// Row stride of the transposed keys: n_k rounded up to a multiple of 16 plus 16 floats, so
// that consecutive rows of kᵀ do not fall on the same L1 set (a stride of 4096 floats = 16 KB
// would make the 64 rows read by each q·kᵀ tile thrash one set).
int64_t kt_stride(int64_t n_k) { return (n_k + 15) / 16 * 16 + 16; }

int64_t attention_scratch_floats(int64_t n_k, int64_t d) {
  return d * kt_stride(n_k) + n_k * d + kBlockRows * d + kBlockRows * n_k;
}

void attention_head(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v,
                    int64_t ldv, int64_t n_q, int64_t n_k, int64_t d, float scale,
                    const GridBias* bias, float* o, int64_t ldo, float* scratch) {
  const int64_t ldkt = kt_stride(n_k);
  float* kT = scratch;             // [d, ldkt]: keys transposed so q·kᵀ is an NN product
  float* vc = kT + d * ldkt;       // [n_k, d]: values packed contiguously (streamed by P·v)
  float* qs = vc + n_k * d;        // [kBlockRows, d]: scaled queries of the block
  float* s = qs + kBlockRows * d;  // [kBlockRows, n_k]: scores, then probabilities
  for (int64_t j = 0; j < n_k; ++j) {
    for (int64_t c = 0; c < d; ++c) kT[c * ldkt + j] = k[j * ldk + c];
    for (int64_t c = 0; c < d; ++c) vc[j * d + c] = v[j * ldv + c];
  }

  for (int64_t i0 = 0; i0 < n_q; i0 += kBlockRows) {
    const int64_t bq = std::min(kBlockRows, n_q - i0);
    for (int64_t r = 0; r < bq; ++r)
      for (int64_t c = 0; c < d; ++c) qs[r * d + c] = q[(i0 + r) * ldq + c] * scale;
    gemm_nn(qs, d, kT, ldkt, s, n_k, bq, n_k, d);
    for (int64_t r = 0; r < bq; ++r) {
      float* row = s + r * n_k;
      if (bias) {
        const float* rh = bias->rel_h + (i0 + r) * bias->kh;
        const float* rw = bias->rel_w + (i0 + r) * bias->kw;
        for (int64_t y = 0; y < bias->kh; ++y) {
          float* seg = row + y * bias->kw;
          const float h = rh[y];
          for (int64_t x = 0; x < bias->kw; ++x) seg[x] = (seg[x] + h) + rw[x];
        }
      }
      softmax_row(row, n_k);
    }
    gemm_nn(s, n_k, vc, d, o + i0 * ldo, ldo, bq, d, n_k);
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
