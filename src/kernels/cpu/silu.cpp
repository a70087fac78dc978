#include "kernels/cpu/silu.h"

#include <cmath>

#include "core/threadpool.h"

namespace dsvl::kernels {

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float g = gate[i];
          out[i] = (g / (1.0f + std::exp(-g))) * up[i];
        }
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
