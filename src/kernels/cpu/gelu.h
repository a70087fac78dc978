// GELU, exact form: gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), as torch nn.GELU() with its
// default approximate="none". DeepSeek-VL uses it in every MLP (SAM, SigLIP, aligner): the
// tanh approximation is wrong here (spec §8.1).
#pragma once

#include <cstdint>

namespace dsvl::kernels {

// In place on n contiguous floats. Multithreaded for large n.
void gelu(float* x, int64_t n);

// Naive reference: double-precision std::erf.
void gelu_ref(float* x, int64_t n);

}  // namespace dsvl::kernels
