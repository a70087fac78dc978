// The gated MLP activation of LLaMA: out = SiLU(gate) ⊙ up, SiLU(g) = g / (1 + e^(−g)),
// float32 as torch.nn.functional.silu; e^(−g) by vecmath::exp16 (a few ulps) under AVX-512.
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// out may alias gate or up. Multithreaded.
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// Naive scalar reference (double precision) used by tests.
void silu_mul_ref(const float* gate, const float* up, int64_t n, float* out);

}  // namespace dsvl::kernels
