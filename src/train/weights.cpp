#include "train/weights.h"

#include "core/error.h"

namespace dsvl::train {
namespace {

LinearRef<float> linear(ParamSet& ps, const std::string& name, int64_t out, int64_t in, bool bias) {
  Param& w = ps.require(name + ".weight", {out, in});
  LinearRef<float> L;
  L.w = w.view();
  L.dw = w.grad_ptr();
  if (bias) {
    Param& b = ps.require(name + ".bias", {out});
    L.b = b.f32();
    L.db = b.grad_ptr();
  }
  return L;
}

VecRef<float> vec(ParamSet& ps, const std::string& key, const Shape& shape) {
  Param& p = ps.require(key, shape);
  return {p.f32(), p.grad_ptr()};
}

}  // namespace

std::string siglip_prefix(const io::ModelConfig& cfg) {
  return cfg.is_hybrid() ? "vision_model.vision_tower_low.vision_tower."
                         : "vision_model.vision_tower.";
}

std::string siglip_unused_prefix(const io::ModelConfig& cfg) {
  return siglip_prefix(cfg) + "attn_pool.";
}

LlmRef<float> bind_llm(ParamSet& ps, const io::LlmConfig& c) {
  if (c.num_key_value_heads != c.num_attention_heads)
    throw ConfigError("language_config: num_key_value_heads " +
                      std::to_string(c.num_key_value_heads) + " != num_attention_heads " +
                      std::to_string(c.num_attention_heads) +
                      " (grouped-query attention is not used by DeepSeek-VL)");
  const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  LlmRef<float> r;
  r.dims = {c.hidden_size, c.intermediate_size, c.num_attention_heads, c.rms_norm_eps,
            c.rope_theta};
  r.embed_tokens = linear(ps, "language_model.model.embed_tokens", V, D, false);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "language_model.model.layers." + std::to_string(l) + ".";
    LlmLayerRef<float> L;
    L.input_layernorm = vec(ps, p + "input_layernorm.weight", {D});
    L.post_attention_layernorm = vec(ps, p + "post_attention_layernorm.weight", {D});
    L.q_proj = linear(ps, p + "self_attn.q_proj", D, D, false);
    L.k_proj = linear(ps, p + "self_attn.k_proj", D, D, false);
    L.v_proj = linear(ps, p + "self_attn.v_proj", D, D, false);
    L.o_proj = linear(ps, p + "self_attn.o_proj", D, D, false);
    L.gate_proj = linear(ps, p + "mlp.gate_proj", F, D, false);
    L.up_proj = linear(ps, p + "mlp.up_proj", F, D, false);
    L.down_proj = linear(ps, p + "mlp.down_proj", D, F, false);
    r.layers.push_back(L);
  }
  r.norm = vec(ps, "language_model.model.norm.weight", {D});
  r.lm_head = linear(ps, "language_model.lm_head", V, D, false);
  return r;
}

AlignerRef<float> bind_aligner(ParamSet& ps, const io::ModelConfig& cfg) {
  const io::AlignerConfig& a = cfg.aligner;
  AlignerRef<float> r;
  r.hybrid = a.kind == io::AlignerKind::kHybridSplit;
  const int64_t E = a.n_embed;
  if (r.hybrid) {
    const int64_t high_in = ps.at("aligner.high_up_proj.weight").shape.at(1);
    r.high_up_proj = linear(ps, "aligner.high_up_proj", E / 2, high_in, true);
    r.low_up_proj = linear(ps, "aligner.low_up_proj", E / 2, cfg.vision.siglip.width, true);
    // layers = [GELU, Linear, GELU, Linear, …]: the Linears sit at odd indices.
    for (int i = 1; i < a.depth; ++i)
      r.layers.push_back(linear(ps, "aligner.layers." + std::to_string(2 * i - 1), E, E, true));
  } else {
    // layers = [Linear, GELU, Linear, …]: the Linears sit at even indices.
    r.layers.push_back(linear(ps, "aligner.layers.0", E, cfg.vision.siglip.width, true));
    for (int i = 1; i < a.depth; ++i)
      r.layers.push_back(linear(ps, "aligner.layers." + std::to_string(2 * i), E, E, true));
  }
  return r;
}

SiglipRef<float> bind_siglip(ParamSet& ps, const io::ModelConfig& cfg) {
  const io::SiglipConfig& s = cfg.vision.siglip;
  const std::string p = siglip_prefix(cfg);
  const int64_t C = s.width, F = s.mlp_dim(), P = s.patch_size, Tn = s.n_tokens();
  SiglipRef<float> r;
  r.dims = {s.width, s.heads, s.patch_size, s.image_size, s.ln_eps};
  Param& pw = ps.require(p + "patch_embed.proj.weight", {C, 3, P, P});
  r.patch_embed.w = pw.view();
  r.patch_embed.w.shape = {C, 3 * P * P};  // the conv as a GEMM over flattened patches
  r.patch_embed.dw = pw.grad_ptr();
  Param& pb = ps.require(p + "patch_embed.proj.bias", {C});
  r.patch_embed.b = pb.f32();
  r.patch_embed.db = pb.grad_ptr();
  r.pos_embed = vec(ps, p + "pos_embed", {1, Tn, C});
  for (int b = 0; b < s.layers; ++b) {
    const std::string q = p + "blocks." + std::to_string(b) + ".";
    SiglipBlockRef<float> B;
    B.norm1_w = vec(ps, q + "norm1.weight", {C});
    B.norm1_b = vec(ps, q + "norm1.bias", {C});
    B.norm2_w = vec(ps, q + "norm2.weight", {C});
    B.norm2_b = vec(ps, q + "norm2.bias", {C});
    B.qkv = linear(ps, q + "attn.qkv", 3 * C, C, true);
    B.proj = linear(ps, q + "attn.proj", C, C, true);
    B.fc1 = linear(ps, q + "mlp.fc1", F, C, true);
    B.fc2 = linear(ps, q + "mlp.fc2", C, F, true);
    r.blocks.push_back(B);
  }
  r.norm_w = vec(ps, p + "norm.weight", {C});
  r.norm_b = vec(ps, p + "norm.bias", {C});
  return r;
}

}  // namespace dsvl::train
