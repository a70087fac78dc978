// Public linear/GEMM entry points: argument checks, bias conversion, and the choice between
// the weight-streaming small-M kernels (gemv.cpp) and the blocked GEMMs (gemm_f32.cpp,
// gemm_bf16.cpp, gemm_amx.cpp).
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/silu.h"

namespace dsvl::kernels {
namespace {

using detail::BMatrix;
using detail::Epilogue;

bool is_float(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

// Checks w (and b) and returns N, K.
std::pair<int64_t, int64_t> check_weight(const TensorView& w, const TensorView* b) {
  if (w.shape.size() != 2)
    throw ShapeError("linear: weight must be 2-D, got " + shape_str(w.shape));
  if (!is_float(w.dtype))
    throw ShapeError(std::string("linear: weight dtype ") + dtype_name(w.dtype) +
                     " is not a float type");
  const int64_t N = w.shape[0], K = w.shape[1];
  if (b && b->data) {
    if (b->shape.size() != 1 || b->shape[0] != N)
      throw ShapeError("linear: bias shape " + shape_str(b->shape) + ", expected [" +
                       std::to_string(N) + "]");
    if (!is_float(b->dtype))
      throw ShapeError(std::string("linear: bias dtype ") + dtype_name(b->dtype) +
                       " is not a float type");
  }
  return {N, K};
}

// The bias as float32 (a view of it when already F32, else converted into scratch).
const float* bias_f32(const TensorView* b, int64_t N) {
  if (!b || !b->data) return nullptr;
  if (b->dtype == DType::kF32) return static_cast<const float*>(b->data);
  thread_local std::vector<float> buf;
  float* out = detail::scratch(buf, size_t(N));
  for (int64_t n = 0; n < N; ++n) out[n] = load_float(*b, n);
  return out;
}

// The GEMM operand for weight w ([N, K]). A repacked weight holds bf16 values, which the
// float32 path widens exactly (WeightArena repacks only BF16 weights for it).
BMatrix b_matrix(const TensorView& w, int64_t K) {
  if (w.packed && w.dtype != DType::kBF16)
    throw ShapeError("linear: a repacked weight must be BF16");
  return BMatrix{w.dtype, w.data, K, w.packed};
}

void run(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M, int64_t N,
         int64_t K, const Epilogue& ep, Precision p) {
  if (p == Precision::kBF16)
    detail::gemm_bf16(A, lda, B, C, ldc, M, N, K, ep);
  else if (M <= detail::kGemvMaxM)
    detail::gemv_f32(A, lda, B, C, ldc, M, N, K, ep);
  else
    detail::gemm_f32(A, lda, B, C, ldc, M, N, K, ep);
}

double bf16_round(double v) { return bf16_to_f32(f32_to_bf16(float(v))); }

void ref(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y, bool bf16) {
  const auto [N, K] = check_weight(w, b);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = (b && b->data) ? double(load_float(*b, n)) : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        double xv = x[m * K + k], wv = load_float(w, n * K + k);
        if (bf16) {
          xv = bf16_round(xv);
          wv = bf16_round(wv);
        }
        s += xv * wv;
      }
      y[m * N + n] = float(s);
    }
}

}  // namespace

void linear_strided(const float* x, int64_t ldx, int64_t M, const TensorView& w,
                    const TensorView* b, float* y, int64_t ldy, Precision p) {
  const auto [N, K] = check_weight(w, b);
  const Epilogue ep{bias_f32(b, N), false};
  run(x, ldx, b_matrix(w, K), y, ldy, M, N, K, ep, p);
}

void linear(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y,
            Precision p) {
  const auto [N, K] = check_weight(w, b);
  linear_strided(x, K, M, w, b, y, N, p);
}

void linear_add(const float* x, int64_t M, const TensorView& w, float* y, Precision p) {
  const auto [N, K] = check_weight(w, nullptr);
  run(x, K, b_matrix(w, K), y, N, M, N, K, Epilogue{nullptr, true}, p);
}

void linear_swiglu(const float* x, int64_t M, const TensorView& gate, const TensorView& up,
                   float* y, float* up_scratch, Precision p) {
  const auto [N, K] = check_weight(gate, nullptr);
  check_weight(up, nullptr);
  if (up.shape != gate.shape)
    throw ShapeError("linear_swiglu: up " + shape_str(up.shape) + " and gate " +
                     shape_str(gate.shape) + " differ");
  if (p == Precision::kBF16 && detail::bf16_kernel() == detail::Bf16Kernel::kAmx &&
      detail::gemm_bf16_amx_swiglu(x, K, b_matrix(gate, K), b_matrix(up, K), y, N, M, N, K))
    return;
  linear(x, M, gate, nullptr, y, p);
  linear(x, M, up, nullptr, up_scratch, p);
  silu_mul(y, up_scratch, M * N, y);
}

void gemm_nt(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t M, int64_t N, int64_t K, bool accumulate, Precision p) {
  run(A, lda, BMatrix{DType::kF32, B, ldb}, C, ldc, M, N, K, Epilogue{nullptr, accumulate}, p);
}

void linear_ref(const float* x, int64_t M, const TensorView& w, const TensorView* b, float* y) {
  ref(x, M, w, b, y, false);
}

void linear_ref_bf16(const float* x, int64_t M, const TensorView& w, const TensorView* b,
                     float* y) {
  ref(x, M, w, b, y, true);
}

Bf16Weight to_bf16(const TensorView& w) {
  Bf16Weight out{w.shape, std::vector<uint16_t>(size_t(w.numel()))};
  to_bf16_into(w, out.data.data());
  return out;
}

void to_bf16_into(const TensorView& w, uint16_t* dst) {
  if (!is_float(w.dtype))
    throw ShapeError(std::string("to_bf16: dtype ") + dtype_name(w.dtype) + " is not a float type");
  if (w.packed) throw ShapeError("to_bf16: the weight is already repacked");
  // Rows of kChunk elements so the vectorized rounding of the packers is reused and a model
  // load converts on all threads (a 7B F16 checkpoint is 14 GB).
  constexpr int64_t kChunk = 1 << 16;
  const int64_t n = w.numel();
  const BMatrix rows{w.dtype, w.data, kChunk};
  parallel_for((n + kChunk - 1) / kChunk, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      detail::row_to_bf16(rows, r, std::min(kChunk, n - r * kChunk), dst + r * kChunk);
  });
}

int64_t packed_panels(const Shape& shape) {
  return (check_weight(TensorView{DType::kBF16, shape, nullptr}, nullptr).first + detail::kNR - 1) /
         detail::kNR;
}

int64_t packed_elems(const Shape& shape) {
  const auto [N, K] = check_weight(TensorView{DType::kBF16, shape, nullptr}, nullptr);
  return packed_panels(shape) * detail::panel_elems(K);
}

void pack_bf16_panels(const TensorView& w, int64_t p0, int64_t p1, uint16_t* dst) {
  const auto [rows_n, cols_k] = check_weight(w, nullptr);
  const int64_t N = rows_n, K = cols_k;  // clang < 16 cannot capture structured bindings
  if (w.packed) throw ShapeError("pack_bf16: the weight is already repacked");
  const BMatrix rows{w.dtype, w.data, K};
  parallel_for(p1 - p0,
               [&](int64_t b, int64_t e) { detail::pack_panels(rows, N, K, p0 + b, p0 + e, dst); });
}

PackedWeight pack_bf16(const TensorView& w) {
  PackedWeight out{w.shape, std::vector<uint16_t>(size_t(packed_elems(w.shape)))};
  pack_bf16_panels(w, 0, packed_panels(w.shape), out.data.data());
  return out;
}

const char* bf16_kernel_name() {
  switch (detail::bf16_kernel()) {
    case detail::Bf16Kernel::kAmx:
      return "amx";
    case detail::Bf16Kernel::kDot:
      return "avx512_bf16";
    default:
      return "emulated";
  }
}

}  // namespace dsvl::kernels
