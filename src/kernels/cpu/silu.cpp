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
        // e^(−g) by vecmath::exp16; where −g is past its range the lane takes +inf, as
        // std::exp overflows, so g / (1 + e) is −0 there. The tail is a masked step of the
        // same arithmetic, so an element's value does not depend on where a chunk ends.
        const __m512 one = _mm512_set1_ps(1.0f), inf = _mm512_set1_ps(INFINITY);
        const __m512 lo = _mm512_set1_ps(-vecmath::kExpHi);
        for (; i < i1; i += 16) {
          const __mmask16 m = simd::mask16(int(std::min<int64_t>(16, i1 - i)));
          const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
          __m512 e = vecmath::exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
          e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(g, lo, _CMP_LT_OQ), inf);
          const __m512 y = _mm512_div_ps(g, _mm512_add_ps(one, e));
          _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(y, _mm512_maskz_loadu_ps(m, up + i)));
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
