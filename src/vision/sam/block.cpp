#include "kernels/cpu/gelu.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "vision/common.h"
#include "vision/sam/sam.h"

namespace dsvl::vision::sam {

// lin2(GELU(lin1(xn))) into s.tmp; the hidden [G², 4C] lives in s.big (qkv is dead by now).
void mlp_forward(const BlockWeights& w, const io::SamConfig& c, Scratch& s, kernels::Precision p) {
  const int64_t T = int64_t(c.grid()) * c.grid(), F = int64_t(c.mlp_ratio) * c.width;
  kernels::linear(s.xn.data(), T, w.mlp_lin1_weight, &w.mlp_lin1_bias, s.big.data(), p);
  kernels::gelu(s.big.data(), T * F);
  kernels::linear(s.big.data(), T, w.mlp_lin2_weight, &w.mlp_lin2_bias, s.tmp.data(), p);
}

void block_forward(const BlockWeights& w, const io::SamConfig& c, Scratch& s,
                   kernels::Precision p) {
  const int64_t T = int64_t(c.grid()) * c.grid(), C = c.width;
  kernels::layernorm(s.x.data(), T, C, w.norm1_weight.data(), w.norm1_bias.data(), c.ln_eps,
                     s.xn.data());
  attention_forward(w, c, s, p);
  add_inplace(s.x.data(), s.tmp.data(), T * C);
  kernels::layernorm(s.x.data(), T, C, w.norm2_weight.data(), w.norm2_bias.data(), c.ln_eps,
                     s.xn.data());
  mlp_forward(w, c, s, p);
  add_inplace(s.x.data(), s.tmp.data(), T * C);
}

}  // namespace dsvl::vision::sam
