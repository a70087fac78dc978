#include "kernels/cpu/silu.h"

#include <algorithm>
#include <cmath>

#include "core/threadpool.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vecmath.h"

namespace dsvl::kernels {

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        int64_t i = i0;
#if defined(__AVX512F__)
        // The tail is a masked step of the same arithmetic, so an element's value does not
        // depend on where a chunk ends.
        for (; i < i1; i += 16) {
          const __mmask16 m = simd::mask16(int(std::min<int64_t>(16, i1 - i)));
          const __m512 y = vecmath::silu16(_mm512_maskz_loadu_ps(m, gate + i));
          _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(y, _mm512_maskz_loadu_ps(m, up + i)));
        }
#elif defined(__AVX2__) && defined(__FMA__)
        // Masked loads and stores for the tail only (simd::load_n); the same arithmetic.
        for (; i < i1; i += 8) {
          const int w = int(std::min<int64_t>(8, i1 - i));
          const __m256 y = vecmath::silu8(simd::load_n(gate + i, w));
          simd::store_n(out + i, w, _mm256_mul_ps(y, simd::load_n(up + i, w)));
        }
#else
        for (; i < i1; ++i) {
          const float g = gate[i];
          out[i] = (g / (1.0f + std::exp(-g))) * up[i];
        }
#endif
      },
      /*grain=*/16384);
}

void silu_mul_ref(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = float(g / (1.0 + std::exp(-g)) * double(up[i]));
  }
}

}  // namespace dsvl::kernels
