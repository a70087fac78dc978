// The few building blocks every training layer is written with, for two scalar types: float
// (the engine; matrix products go to the AVX-512 kernel and may read F16/BF16 checkpoint
// tensors directly) and double (the reference the finite-difference tests run the very same
// layer code in; naive loops). Layers are templates over T and only ever call these.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/train_gemm.h"

namespace dsvl::train {

// A double matrix operand: element (i, j) at p[i·rs + j·cs].
struct DMat {
  const double* p;
  int64_t rs, cs;
};

inline kernels::MatRef mref(const float* p, int64_t rs, int64_t cs) {
  return {p, DType::kF32, rs, cs};
}
inline DMat mref(const double* p, int64_t rs, int64_t cs) { return {p, rs, cs}; }

// C[M, N] (+)= A[M, K]·B[K, N].
inline void mm(int64_t M, int64_t N, int64_t K, const kernels::MatRef& A, const kernels::MatRef& B,
               float* C, int64_t ldc, bool accumulate) {
  kernels::gemm(M, N, K, A, B, C, ldc, accumulate);
}
void mm(int64_t M, int64_t N, int64_t K, const DMat& A, const DMat& B, double* C, int64_t ldc,
        bool accumulate);

// A linear layer y = x·Wᵀ + b as the layers see it: W [out, in]; b may be null; dw / db are
// null when the layer is frozen (then only dx is propagated).
template <typename T>
struct LinearRef;

template <>
struct LinearRef<float> {
  TensorView w;  // any float dtype
  const float* b = nullptr;
  float* dw = nullptr;
  float* db = nullptr;
  int64_t out() const { return w.shape[0]; }
  int64_t in() const { return w.shape[1]; }
  kernels::MatRef mat() const { return kernels::weight(w); }      // W   [out, in]
  kernels::MatRef mat_t() const { return kernels::weight_t(w); }  // Wᵀ  [in, out]
};

template <>
struct LinearRef<double> {
  const double* w = nullptr;
  int64_t n_out = 0, n_in = 0;
  const double* b = nullptr;
  double* dw = nullptr;
  double* db = nullptr;
  int64_t out() const { return n_out; }
  int64_t in() const { return n_in; }
  DMat mat() const { return {w, n_in, 1}; }
  DMat mat_t() const { return {w, 1, n_in}; }
};

// Row r of a linear weight (an embedding table is stored like one) as T values.
inline void weight_row(const LinearRef<float>& L, int64_t r, float* dst) {
  const int64_t n = L.in();
  if (L.w.dtype == DType::kF32) {
    const float* src = static_cast<const float*>(L.w.data) + r * n;
    std::copy(src, src + n, dst);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = load_float(L.w, r * n + i);
  }
}
inline void weight_row(const LinearRef<double>& L, int64_t r, double* dst) {
  std::copy(L.w + r * L.n_in, L.w + (r + 1) * L.n_in, dst);
}

// A vector parameter (norm weight/bias, position table): values and optional gradient.
template <typename T>
struct VecRef {
  const T* v = nullptr;
  T* dv = nullptr;
};

// Growable scratch vector that keeps its capacity (activations are sized once per batch).
template <typename T>
inline T* sized(std::vector<T>& v, int64_t n) {
  if (int64_t(v.size()) < n) v.resize(size_t(n));
  return v.data();
}

}  // namespace dsvl::train
