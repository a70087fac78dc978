// One function per LLaMA sub-layer (spec §5), operating on the rows of the current chunk in a
// Workspace. Each reads like the reference:
//   attention_forward:  h = h + o_proj(Attn(RoPE(q_proj a), RoPE(k_proj a), v_proj a)),
//                       a = RMSNorm_in(h); new keys/values are appended to each piece's cache
//   mlp_forward:        h = h + down_proj(SiLU(gate_proj m) ⊙ up_proj m),  m = RMSNorm_post(h)
#pragma once

#include <cstdint>
#include <span>

#include "io/config.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rope.h"
#include "llm/weights.h"
#include "llm/workspace.h"

namespace dsvl::llm {

// ws.x[0, n_rows) is updated in place; `pieces` say which sequence (and position) each row
// belongs to. Writes keys/values of layer `layer` at the pieces' positions. `p` is the
// precision of the projections; RMSNorm, RoPE, attention (scores, softmax, p·v) and SiLU
// stay float32.
void attention_forward(const LayerWeights& w, int layer, const io::LlmConfig& config,
                       const kernels::RopeTable& rope, std::span<const Piece> pieces,
                       int64_t n_rows, Workspace& ws, kernels::Precision p);

void mlp_forward(const LayerWeights& w, const io::LlmConfig& config, int64_t n_rows, Workspace& ws,
                 kernels::Precision p);

// attention_forward then mlp_forward.
void block_forward(const LayerWeights& w, int layer, const io::LlmConfig& config,
                   const kernels::RopeTable& rope, std::span<const Piece> pieces, int64_t n_rows,
                   Workspace& ws, kernels::Precision p);

}  // namespace dsvl::llm
