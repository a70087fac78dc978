// Small-M (decode) path: C[M ≤ 8, N] = A·Bᵀ streaming each weight row exactly once.
//
// Decode is bound by reading the weights, so nothing is packed: each thread takes a
// contiguous range of B rows and walks kRows of them at a time along K, widening F16/BF16 in
// registers (or rounding to bf16 for the bf16 path) and keeping M·kRows dot-product
// accumulators in zmm registers. The few activation rows stay in L1/L2.
#include <algorithm>

#include "core/threadpool.h"
#include "kernels/cpu/bmatrix_load.h"

namespace dsvl::kernels::detail {
namespace {

// Weight rows walked together: enough independent streams for the prefetchers and enough
// accumulators to hide FMA latency, without spilling (M·rows ≤ 24 of the 32 zmm).
constexpr int rows_for(int m) { return m <= 2 ? 8 : m <= 6 ? 4 : 3; }

// Runs fn(row_begin, row_end) over [0, N) split between the threads in multiples of 16 rows.
template <typename Fn>
void split_rows(int64_t N, int64_t work, Fn&& fn) {
  if (work < (int64_t(1) << 16) || N < 32) return fn(int64_t(0), N);
  parallel_run([&](int t, int nt) {
    const int64_t units = (N + 15) / 16;
    const int64_t b = std::min(N, units * t / nt * 16), e = std::min(N, units * (t + 1) / nt * 16);
    if (b < e) fn(b, e);
  });
}

#if defined(__AVX512F__)

// Rows [r0, r0+R) of C for all M rows of A, float32 FMAs.
template <int M, int R, DType D>
void gemv_rows_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t r0,
                   int64_t K, const Epilogue& ep) {
  __m512 acc[M][R];
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < R; ++j) acc[m][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 mk = simd::mask16(int(std::min<int64_t>(16, K - k)));
    __m512 w[R];
    for (int j = 0; j < R; ++j) w[j] = load_b_f32<D>(B, r0 + j, k, mk);
    for (int m = 0; m < M; ++m) {
      const __m512 a = _mm512_maskz_loadu_ps(mk, A + m * lda + k);
      for (int j = 0; j < R; ++j) acc[m][j] = _mm512_fmadd_ps(a, w[j], acc[m][j]);
    }
  }
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < R; ++j) {
      float s = simd::hsum(acc[m][j]);
      if (ep.bias) s += ep.bias[r0 + j];
      float& c = C[m * ldc + r0 + j];
      c = ep.accumulate ? c + s : s;
    }
}

#endif

#if defined(__AVX512BF16__)

// Rows [r0, r0+R) with vdpbf16ps: X holds the M activation rows as bf16, row stride ldx ≥ K
// rounded up to 32 and zero-padded, so only the weight loads need a tail mask.
template <int M, int R, DType D>
void gemv_rows_bf16(const uint16_t* X, int64_t ldx, const BMatrix& B, float* C, int64_t ldc,
                    int64_t r0, int64_t K, const Epilogue& ep) {
  __m512 acc[M][R];
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < R; ++j) acc[m][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    const int kt = int(std::min<int64_t>(32, K - k));
    __m512bh w[R];
    for (int j = 0; j < R; ++j) w[j] = (__m512bh)load_b_bf16<D>(B, r0 + j, k, kt);
    for (int m = 0; m < M; ++m) {
      const __m512bh a = (__m512bh)_mm512_loadu_si512(X + m * ldx + k);
      for (int j = 0; j < R; ++j) acc[m][j] = _mm512_dpbf16_ps(acc[m][j], a, w[j]);
    }
  }
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < R; ++j) {
      float s = simd::hsum(acc[m][j]);
      if (ep.bias) s += ep.bias[r0 + j];
      float& c = C[m * ldc + r0 + j];
      c = ep.accumulate ? c + s : s;
    }
}

#endif

// Scalar rows (tails of fewer than R rows, and builds without the instructions). With
// round_bf16 the weights are rounded to bf16 (A must then hold bf16-rounded values).
void gemv_rows_scalar(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                      int64_t M, int64_t r0, int64_t r1, int64_t K, const Epilogue& ep,
                      bool round_bf16) {
  thread_local std::vector<float> wbuf;
  float* w = scratch(wbuf, size_t(K));
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t k = 0; k < K; ++k) {
      const int64_t i = r * B.ld + k;
      w[k] = B.dtype == DType::kF32   ? static_cast<const float*>(B.data)[i]
             : B.dtype == DType::kF16 ? f16_to_f32(static_cast<const uint16_t*>(B.data)[i])
                                      : bf16_to_f32(static_cast<const uint16_t*>(B.data)[i]);
      if (round_bf16) w[k] = bf16_to_f32(f32_to_bf16(w[k]));
    }
    for (int64_t m = 0; m < M; ++m) {
      float s = 0.0f;
      for (int64_t k = 0; k < K; ++k) s += A[m * lda + k] * w[k];
      if (ep.bias) s += ep.bias[r];
      float& c = C[m * ldc + r];
      c = ep.accumulate ? c + s : s;
    }
  }
}

template <int M>
void gemv_f32_m(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t N,
                int64_t K, const Epilogue& ep) {
  split_rows(N, M * N * K, [&](int64_t b, int64_t e) {
    int64_t r = b;
#if defined(__AVX512F__)
    constexpr int R = rows_for(M);
    for (; r + R <= e; r += R) {
      switch (B.dtype) {
        case DType::kF32:
          gemv_rows_f32<M, R, DType::kF32>(A, lda, B, C, ldc, r, K, ep);
          break;
        case DType::kF16:
          gemv_rows_f32<M, R, DType::kF16>(A, lda, B, C, ldc, r, K, ep);
          break;
        default:
          gemv_rows_f32<M, R, DType::kBF16>(A, lda, B, C, ldc, r, K, ep);
      }
    }
#endif
    gemv_rows_scalar(A, lda, B, C, ldc, M, r, e, K, ep, false);
  });
}

// bf16 rows: X = the activations rounded to bf16 (ldx padded), Af = the same as floats for
// the scalar tail.
template <int M>
void gemv_bf16_m(const uint16_t* X, int64_t ldx, const float* Af, const BMatrix& B, float* C,
                 int64_t ldc, int64_t N, int64_t K, const Epilogue& ep) {
  split_rows(N, M * N * K, [&](int64_t b, int64_t e) {
    int64_t r = b;
#if defined(__AVX512BF16__)
    constexpr int R = rows_for(M);
    for (; r + R <= e; r += R) {
      switch (B.dtype) {
        case DType::kF32:
          gemv_rows_bf16<M, R, DType::kF32>(X, ldx, B, C, ldc, r, K, ep);
          break;
        case DType::kF16:
          gemv_rows_bf16<M, R, DType::kF16>(X, ldx, B, C, ldc, r, K, ep);
          break;
        default:
          gemv_rows_bf16<M, R, DType::kBF16>(X, ldx, B, C, ldc, r, K, ep);
      }
    }
#else
    (void)X;
    (void)ldx;
#endif
    gemv_rows_scalar(Af, K, B, C, ldc, M, r, e, K, ep, true);
  });
}

}  // namespace

void gemv_bf16(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
               int64_t N, int64_t K, const Epilogue& ep) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return apply_empty_k(C, ldc, M, N, ep);
  if (M > kGemvMaxM) return gemm_bf16(A, lda, B, C, ldc, M, N, K, ep);
  // The activations are rounded once here (caller's thread) and shared by both threads.
  thread_local std::vector<uint16_t> xbuf;
  thread_local std::vector<float> fbuf;
  const int64_t ldx = (K + 31) / 32 * 32;
  uint16_t* X = scratch(xbuf, size_t(M * ldx));
  float* Af = scratch(fbuf, size_t(M * K));
  convert_a_bf16(A, lda, M, 0, K, X, ldx);
  for (int64_t i = 0; i < M * K; ++i) Af[i] = bf16_to_f32(X[(i / K) * ldx + i % K]);
  using Fn = void (*)(const uint16_t*, int64_t, const float*, const BMatrix&, float*, int64_t,
                      int64_t, int64_t, const Epilogue&);
  static constexpr Fn kByM[kGemvMaxM] = {gemv_bf16_m<1>, gemv_bf16_m<2>, gemv_bf16_m<3>,
                                         gemv_bf16_m<4>, gemv_bf16_m<5>, gemv_bf16_m<6>,
                                         gemv_bf16_m<7>, gemv_bf16_m<8>};
  kByM[M - 1](X, ldx, Af, B, C, ldc, N, K, ep);
}

void gemv_f32(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
              int64_t N, int64_t K, const Epilogue& ep) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return apply_empty_k(C, ldc, M, N, ep);
  if (M > kGemvMaxM) return gemm_f32(A, lda, B, C, ldc, M, N, K, ep);
  using Fn = void (*)(const float*, int64_t, const BMatrix&, float*, int64_t, int64_t, int64_t,
                      const Epilogue&);
  static constexpr Fn kByM[kGemvMaxM] = {gemv_f32_m<1>, gemv_f32_m<2>, gemv_f32_m<3>,
                                         gemv_f32_m<4>, gemv_f32_m<5>, gemv_f32_m<6>,
                                         gemv_f32_m<7>, gemv_f32_m<8>};
  kByM[M - 1](A, lda, B, C, ldc, N, K, ep);
}

}  // namespace dsvl::kernels::detail
