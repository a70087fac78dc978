// AVX-512 loads of a B operand row segment in its stored dtype: as 16 float32 (widened
// exactly) or as 32 bf16 (rounded to nearest even from F32/F16). Tails are zero-masked.
#pragma once

#include <algorithm>

#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd.h"

#if defined(__AVX512F__)

namespace dsvl::kernels::detail {

// B[row, k .. k+16) as float32; lanes outside mask m are zero.
template <DType D>
inline __m512 load_b_f32(const BMatrix& B, int64_t row, int64_t k, __mmask16 m) {
  const int64_t off = row * B.ld + k;
  if constexpr (D == DType::kF32)
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(B.data) + off);
  else if constexpr (D == DType::kF16)
    return simd::load_f16(static_cast<const uint16_t*>(B.data) + off, m);
  else
    return simd::load_bf16(static_cast<const uint16_t*>(B.data) + off, m);
}

// B[row, k .. k+kt) (kt ≤ 32) as 32 bf16; elements kt..31 are zero.
template <DType D>
inline __m512i load_b_bf16(const BMatrix& B, int64_t row, int64_t k, int kt) {
  if constexpr (D == DType::kBF16) {
    const __mmask32 m = kt >= 32 ? ~__mmask32(0) : __mmask32((1u << kt) - 1);
    return _mm512_maskz_loadu_epi16(m, static_cast<const uint16_t*>(B.data) + row * B.ld + k);
  } else {
    const __m512 lo = load_b_f32<D>(B, row, k, simd::mask16(std::min(kt, 16)));
    const __m512 hi = load_b_f32<D>(B, row, k + 16, simd::mask16(std::max(kt - 16, 0)));
#if defined(__AVX512BF16__)
    // F16 values are never float32 denormals, so the hardware rounding (which flushes
    // denormals) equals round-to-nearest-even here, at a fraction of the cost.
    if constexpr (D == DType::kF16) return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
#endif
    return simd::round_bf16x32(lo, hi);
  }
}

}  // namespace dsvl::kernels::detail

#endif  // __AVX512F__
