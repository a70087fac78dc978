#include "llm/weights.h"

#include "core/error.h"

namespace dsvl::llm {
namespace {

class Binder {
 public:
  Binder(const WeightSource& source, kernels::WeightArena* arena)
      : source_(source), arena_(arena) {}

  // A GEMM operand: through the arena (a bf16 copy on the bf16 path for F16/F32 checkpoints).
  TensorView matrix(const std::string& key, int64_t rows, int64_t cols) const {
    const TensorView& v = checked(key, {rows, cols});
    return arena_ ? arena_->matrix(v) : v;
  }
  // A row-gathered table (the token embeddings): as stored.
  TensorView table(const std::string& key, int64_t rows, int64_t cols) const {
    return checked(key, {rows, cols});
  }
  std::vector<float> vector(const std::string& key, int64_t n) const {
    return to_float(checked(key, {n})).data;
  }

 private:
  const TensorView& checked(const std::string& key, const Shape& shape) const {
    const std::string full = std::string(kLlmPrefix) + key;
    const TensorView& v = source_(full, shape);
    if (v.dtype != DType::kF32 && v.dtype != DType::kF16 && v.dtype != DType::kBF16)
      throw ShapeError(full + ": dtype " + dtype_name(v.dtype) + ", expected F32, F16 or BF16");
    return v;
  }
  const WeightSource& source_;
  kernels::WeightArena* arena_;
};

}  // namespace

LlmWeights bind_llm_weights(const io::LlmConfig& c, const WeightSource& source,
                            kernels::WeightArena* arena) {
  const Binder b(source, arena);
  const int64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t kv = int64_t(c.num_key_value_heads) * c.head_dim();
  LlmWeights w;
  w.embed_tokens = b.table("model.embed_tokens.weight", V, H);
  w.layers.resize(size_t(c.num_hidden_layers));
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[size_t(l)];
    L.q_proj = b.matrix(p + "self_attn.q_proj.weight", H, H);
    L.k_proj = b.matrix(p + "self_attn.k_proj.weight", kv, H);
    L.v_proj = b.matrix(p + "self_attn.v_proj.weight", kv, H);
    L.o_proj = b.matrix(p + "self_attn.o_proj.weight", H, H);
    L.gate_proj = b.matrix(p + "mlp.gate_proj.weight", F, H);
    L.up_proj = b.matrix(p + "mlp.up_proj.weight", F, H);
    L.down_proj = b.matrix(p + "mlp.down_proj.weight", H, F);
    L.input_layernorm = b.vector(p + "input_layernorm.weight", H);
    L.post_attention_layernorm = b.vector(p + "post_attention_layernorm.weight", H);
  }
  w.norm = b.vector("model.norm.weight", H);
  w.lm_head = b.matrix("lm_head.weight", V, H);
  return w;
}

}  // namespace dsvl::llm
