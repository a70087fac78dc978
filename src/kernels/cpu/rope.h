// Rotary position embedding, "rotate-half" (NeoX) layout as HF LLaMA (spec §5): dimension i
// pairs with i + d/2, and
//   x'[i]       = x[i]·cos φ_i − x[i+d/2]·sin φ_i
//   x'[i + d/2] = x[i+d/2]·cos φ_i + x[i]·sin φ_i,     φ_i = pos · inv_freq[i]
// with inv_freq[i] = 1 / θ^(2i/d) and φ built in float32, exactly as the reference builds its
// cos/sin caches (the float32 rounding of φ matters at large positions).
#pragma once

#include <cstdint>
#include <vector>

namespace dsvl::kernels {

// cos/sin of every position below n_pos, computed once per model (8 MB for d = 128 and
// 16384 positions).
struct RopeTable {
  int head_dim = 0;
  int64_t n_pos = 0;
  std::vector<float> cos, sin;  // [n_pos, head_dim / 2]
};

// The float32 inverse frequencies: 1 / θ^(2i/d), i < d/2.
std::vector<float> rope_inv_freq(int head_dim, double theta);
RopeTable make_rope_table(int head_dim, double theta, int64_t n_pos);

// Rotates n_heads heads of each row of x in place. x: [n_tokens, ≥ n_heads·head_dim] with row
// stride ld; row t is at position pos0 + t (< table.n_pos, checked by the caller).
void rope_apply(float* x, int64_t n_tokens, int64_t ld, int n_heads, int64_t pos0,
                const RopeTable& table);

// Naive reference: recomputes φ, cos and sin per element.
void rope_apply_ref(float* x, int64_t n_tokens, int64_t ld, int n_heads, int head_dim, int64_t pos0,
                    double theta);

}  // namespace dsvl::kernels
