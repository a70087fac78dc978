#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
// GCC 12 reports false "may be used uninitialized" inside its own AVX-512 headers
// (_mm512_undefined_ps used by reductions and masked loads).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/threadpool.h"

namespace dsvl::kernels {
namespace {

// Widens rows [n0, n0+nr) of a [N, K] weight into float32 `dst` (row stride K).
void widen_rows(const TensorView& w, int64_t n0, int64_t nr, int64_t K, float* dst) {
  const int64_t off = n0 * K, cnt = nr * K;
  switch (w.dtype) {
    case DType::kF32:
      std::memcpy(dst, static_cast<const float*>(w.data) + off, size_t(cnt) * 4);
      break;
    case DType::kF16: {
      const uint16_t* s = static_cast<const uint16_t*>(w.data) + off;
      int64_t i = 0;
#if defined(__AVX512F__)
      for (; i + 16 <= cnt; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(s + i))));
#endif
      for (; i < cnt; ++i) dst[i] = f16_to_f32(s[i]);
      break;
    }
    case DType::kBF16: {
      const uint16_t* s = static_cast<const uint16_t*>(w.data) + off;
      int64_t i = 0;
#if defined(__AVX512F__)
      for (; i + 16 <= cnt; i += 16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(s + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
      }
#endif
      for (; i < cnt; ++i) dst[i] = bf16_to_f32(s[i]);
      break;
    }
    default:
      throw ShapeError(std::string("linear: weight dtype ") + dtype_name(w.dtype) +
                       " is not a float type");
  }
}

// C tile [mr ≤ 4, nr ≤ 4] = A[mr, K] · B[nr, K]ᵀ.
void tile_4x4(const float* A, int64_t lda, int mr, const float* B, int64_t ldb, int nr, int64_t K,
              float* C, int64_t ldc, bool accumulate) {
#if defined(__AVX512F__)
  __m512 acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  if (mr == 4 && nr == 4) {
    for (; k + 16 <= K; k += 16) {
      __m512 b0 = _mm512_loadu_ps(B + k), b1 = _mm512_loadu_ps(B + ldb + k);
      __m512 b2 = _mm512_loadu_ps(B + 2 * ldb + k), b3 = _mm512_loadu_ps(B + 3 * ldb + k);
      for (int i = 0; i < 4; ++i) {
        __m512 a = _mm512_loadu_ps(A + i * lda + k);
        acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        acc[i][2] = _mm512_fmadd_ps(a, b2, acc[i][2]);
        acc[i][3] = _mm512_fmadd_ps(a, b3, acc[i][3]);
      }
    }
  }
  for (; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
    __m512 b[4];
    for (int j = 0; j < nr; ++j) b[j] = _mm512_maskz_loadu_ps(m, B + j * ldb + k);
    for (int i = 0; i < mr; ++i) {
      __m512 a = _mm512_maskz_loadu_ps(m, A + i * lda + k);
      for (int j = 0; j < nr; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      const float s = _mm512_reduce_add_ps(acc[i][j]);
      C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
    }
#else
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      float s = 0;
      for (int64_t k = 0; k < K; ++k) s += A[i * lda + k] * B[j * ldb + k];
      C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
    }
#endif
}

// Rows of B handled per packed panel; 64 rows of K=4096 floats = 1 MB.
constexpr int64_t kPanelRows = 32;

}  // namespace

void gemm_nt(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K, bool accumulate) {
  const int64_t n_tiles = (N + 3) / 4;
  parallel_for(
      n_tiles,
      [&](int64_t t0, int64_t t1) {
        for (int64_t m = 0; m < M; m += 4) {
          const int mr = int(std::min<int64_t>(4, M - m));
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t * 4;
            const int nr = int(std::min<int64_t>(4, N - n));
            tile_4x4(A + m * lda, lda, mr, B + n * ldb, ldb, nr, K, C + m * ldc + n, ldc,
                     accumulate);
          }
        }
      },
      M * K < 4096 ? n_tiles : 1);
}

void linear_strided(const float* x, int64_t ldx, int64_t M, const TensorView& w,
                    const TensorView* b, float* y, int64_t ldy) {
  if (w.shape.size() != 2)
    throw ShapeError("linear: weight must be 2-D, got " + shape_str(w.shape));
  const int64_t N = w.shape[0], K = w.shape[1];
  const bool has_bias = b && b->data;
  if (has_bias && (b->shape.size() != 1 || b->shape[0] != N))
    throw ShapeError("linear: bias shape " + shape_str(b->shape) + ", expected [" +
                     std::to_string(N) + "]");
  const int64_t n_panels = (N + kPanelRows - 1) / kPanelRows;
  parallel_for(n_panels, [&](int64_t p0, int64_t p1) {
    std::vector<float> panel(size_t(kPanelRows * K));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPanelRows, nr = std::min(kPanelRows, N - n0);
      const float* B;
      if (w.dtype == DType::kF32) {
        B = static_cast<const float*>(w.data) + n0 * K;
      } else {
        widen_rows(w, n0, nr, K, panel.data());
        B = panel.data();
      }
      for (int64_t m = 0; m < M; m += 4) {
        const int mr = int(std::min<int64_t>(4, M - m));
        for (int64_t j = 0; j < nr; j += 4) {
          const int jr = int(std::min<int64_t>(4, nr - j));
          tile_4x4(x + m * ldx, ldx, mr, B + j * K, K, jr, K, y + m * ldy + n0 + j, ldy, false);
        }
      }
      if (has_bias)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t j = 0; j < nr; ++j) y[m * ldy + n0 + j] += load_float(*b, n0 + j);
    }
  });
}

void linear(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y) {
  if (w.shape.size() != 2)
    throw ShapeError("linear: weight must be 2-D, got " + shape_str(w.shape));
  linear_strided(x, w.shape[1], M, w, b, y, w.shape[0]);
}

void linear_ref(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y) {
  const int64_t N = w.shape[0], K = w.shape[1];
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = (b && b->data) ? double(load_float(*b, n)) : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(x[m * K + k]) * double(load_float(w, n * K + k));
      y[m * N + n] = float(s);
    }
}

}  // namespace dsvl::kernels
