// The language model's weights, bound by checkpoint name (prefix `language_model.`, HF LLaMA
// names — spec §2.1). Matrices stay in the checkpoint's dtype (F32/F16/BF16) and memory
// (mmapped) — except on the bf16 path, where F16/F32 GEMM matrices are rounded once to bf16
// copies owned by the model's WeightArena; the small norm vectors are widened to float32 once
// at load.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "kernels/cpu/weight_arena.h"

namespace dsvl::llm {

// Finds a tensor by its full checkpoint key and checks its shape. Throws IoError naming the
// key when absent and ShapeError naming key, actual and expected shape when it differs
// (io::WeightStore::require does exactly this).
using WeightSource = std::function<const TensorView&(const std::string& key, const Shape& shape)>;

// model.layers.{l}.*
struct LayerWeights {
  TensorView q_proj, k_proj, v_proj, o_proj;  // self_attn.{q,k,v,o}_proj.weight
  TensorView gate_proj, up_proj, down_proj;   // mlp.{gate,up,down}_proj.weight
  std::vector<float> input_layernorm;         // input_layernorm.weight
  std::vector<float> post_attention_layernorm;
};

struct LlmWeights {
  TensorView embed_tokens;  // model.embed_tokens.weight [vocab, hidden], always as stored
  std::vector<LayerWeights> layers;
  std::vector<float> norm;  // model.norm.weight
  TensorView lm_head;       // lm_head.weight [vocab, hidden] (untied)
};

// The key prefix of the language model inside a DeepSeek-VL checkpoint.
inline constexpr const char* kLlmPrefix = "language_model.";

// Binds every LLM weight; the first missing, mis-shaped or non-float tensor throws an error
// naming it. GEMM matrices (projections, lm_head) go through `arena` when given.
LlmWeights bind_llm_weights(const io::LlmConfig& config, const WeightSource& source,
                            kernels::WeightArena* arena = nullptr);

}  // namespace dsvl::llm
