#include "io/model_keys.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"

namespace dsvl::io {
namespace {

// Appends keys in the order the official modules register their parameters.
struct Table {
  std::vector<KeySpec>* out;
  std::string component;
  bool include_unused;

  void add(const std::string& name, Shape shape, bool used = true) const {
    if (used || include_unused) out->push_back({name, std::move(shape), component, used});
  }
  // nn.Linear / nn.LayerNorm: weight then bias.
  void linear(const std::string& p, int64_t out_f, int64_t in_f, bool used = true) const {
    add(p + ".weight", {out_f, in_f}, used);
    add(p + ".bias", {out_f}, used);
  }
  void norm(const std::string& p, int64_t n, bool used = true) const {
    add(p + ".weight", {n}, used);
    add(p + ".bias", {n}, used);
  }
};

// SAM-B ViTDet + neck + downsamples (deepseek_vl/models/sam.py, ImageEncoderViT).
void sam_keys(const SamConfig& c, const Table& t) {
  const std::string p = kSamPrefix;
  const int64_t w = c.width, g = c.grid(), hd = c.head_dim(), neck = c.prompt_embed_dim;
  t.add(p + "pos_embed", {1, g, g, w});
  t.add(p + "hd_alpha_downsamples", {1});
  t.add(p + "patch_embed.proj.weight", {w, 3, c.patch_size, c.patch_size});
  t.add(p + "patch_embed.proj.bias", {w});
  for (int i = 0; i < c.layers; ++i) {
    const std::string b = p + "blocks." + std::to_string(i) + ".";
    const bool global = std::find(c.global_attn_indexes.begin(), c.global_attn_indexes.end(), i) !=
                        c.global_attn_indexes.end();
    // Relative-position tables span 2·size − 1 offsets: the window, or the whole grid.
    const int64_t rel = 2 * (global ? g : c.window_size) - 1;
    t.norm(b + "norm1", w);
    t.add(b + "attn.rel_pos_h", {rel, hd});
    t.add(b + "attn.rel_pos_w", {rel, hd});
    t.linear(b + "attn.qkv", 3 * w, w);
    t.linear(b + "attn.proj", w, w);
    t.norm(b + "norm2", w);
    t.linear(b + "mlp.lin1", int64_t(c.mlp_ratio) * w, w);
    t.linear(b + "mlp.lin2", w, int64_t(c.mlp_ratio) * w);
  }
  // neck: conv1x1 (no bias), LayerNorm2d, conv3x3 (no bias), LayerNorm2d.
  auto neck_keys = [&](const std::string& n) {
    t.add(p + n + ".0.weight", {neck, w, 1, 1});
    t.norm(p + n + ".1", neck);
    t.add(p + n + ".2.weight", {neck, neck, 3, 3});
    t.norm(p + n + ".3", neck);
  };
  neck_keys("neck");
  const int64_t d0 = c.downsample_channels[0], d1 = c.downsample_channels[1];
  t.add(p + "downsamples.0.weight", {d0, neck, 3, 3});
  t.add(p + "downsamples.1.weight", {d1, d0, 3, 3});
  neck_keys("neck_hd");
}

// SigLIP ViT (deepseek_vl/models/siglip_vit.py, timm VisionTransformer with a "map" head
// that is built but never run: its attn_pool.* weights are in the checkpoint, unused).
void siglip_keys(const SiglipConfig& c, const std::string& p, const Table& t) {
  const int64_t w = c.width, mlp = c.mlp_dim();
  t.add(p + "pos_embed", {1, c.n_tokens(), w});
  t.add(p + "patch_embed.proj.weight", {w, 3, c.patch_size, c.patch_size});
  t.add(p + "patch_embed.proj.bias", {w});
  for (int i = 0; i < c.layers; ++i) {
    const std::string b = p + "blocks." + std::to_string(i) + ".";
    t.norm(b + "norm1", w);
    t.linear(b + "attn.qkv", 3 * w, w);
    t.linear(b + "attn.proj", w, w);
    t.norm(b + "norm2", w);
    t.linear(b + "mlp.fc1", mlp, w);
    t.linear(b + "mlp.fc2", w, mlp);
  }
  t.norm(p + "norm", w);
  const std::string a = p + "attn_pool.";
  t.add(a + "latent", {1, 1, w}, false);
  t.linear(a + "q", w, w, false);
  t.linear(a + "kv", 2 * w, w, false);
  t.linear(a + "proj", w, w, false);
  t.norm(a + "norm", w, false);
  t.linear(a + "mlp.fc1", mlp, w, false);
  t.linear(a + "mlp.fc2", w, mlp, false);
}

// MlpProjector (deepseek_vl/models/projector.py). nn.Sequential indexes count the GELUs, so
// mlp_gelu has Linear layers at 0, 2, 4, ... and the hybrid split at 1, 3, 5, ...
void aligner_keys(const AlignerConfig& c, const Table& t) {
  const int64_t in = c.input_dim, n = c.n_embed;
  if (c.kind == AlignerKind::kMlpGelu) {
    t.linear("aligner.layers.0", n, in);
    for (int d = 1; d < c.depth; ++d) t.linear("aligner.layers." + std::to_string(2 * d), n, n);
  } else {
    t.linear("aligner.high_up_proj", n / 2, in);
    t.linear("aligner.low_up_proj", n / 2, in);
    for (int d = 1; d < c.depth; ++d) t.linear("aligner.layers." + std::to_string(2 * d - 1), n, n);
  }
}

// transformers LlamaForCausalLM (no biases, untied lm_head).
void llm_keys(const LlmConfig& c, const Table& t) {
  const std::string p = kLlmPrefix;
  const int64_t h = c.hidden_size, f = c.intermediate_size;
  const int64_t kv = int64_t(c.num_key_value_heads) * c.head_dim();
  t.add(p + "model.embed_tokens.weight", {c.vocab_size, h});
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string b = p + "model.layers." + std::to_string(l) + ".";
    t.add(b + "self_attn.q_proj.weight", {h, h});
    t.add(b + "self_attn.k_proj.weight", {kv, h});
    t.add(b + "self_attn.v_proj.weight", {kv, h});
    t.add(b + "self_attn.o_proj.weight", {h, h});
    t.add(b + "mlp.gate_proj.weight", {f, h});
    t.add(b + "mlp.up_proj.weight", {f, h});
    t.add(b + "mlp.down_proj.weight", {h, f});
    t.add(b + "input_layernorm.weight", {h});
    t.add(b + "post_attention_layernorm.weight", {h});
  }
  t.add(p + "model.norm.weight", {h});
  t.add(p + "lm_head.weight", {c.vocab_size, h});
}

bool is_float(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

}  // namespace

std::string siglip_prefix(const ModelConfig& cfg) {
  return cfg.is_hybrid() ? kSiglipLowPrefix : kSiglipOnlyPrefix;
}

std::vector<KeySpec> model_keys(const ModelConfig& cfg, bool include_unused) {
  std::vector<KeySpec> keys;
  if (cfg.is_hybrid()) {
    const SamConfig& sam = *cfg.vision.sam;
    sam_keys(sam, Table{&keys, kCompVisionHigh, include_unused});
    siglip_keys(cfg.vision.siglip, kSiglipLowPrefix, Table{&keys, kCompVisionLow, include_unused});
    // Built by HybridVisionTower from each branch's output_dim, never applied in forward().
    Table{&keys, kCompVisionHigh, include_unused}.norm("vision_model.high_layer_norm",
                                                       sam.output_dim, false);
    Table{&keys, kCompVisionLow, include_unused}.norm("vision_model.low_layer_norm",
                                                      cfg.vision.siglip.output_dim, false);
  } else {
    siglip_keys(cfg.vision.siglip, kSiglipOnlyPrefix, Table{&keys, kCompVision, include_unused});
  }
  aligner_keys(cfg.aligner, Table{&keys, kCompAligner, include_unused});
  llm_keys(cfg.llm, Table{&keys, kCompLlm, include_unused});
  return keys;
}

ParamCounts count_params(const std::vector<KeySpec>& keys) {
  ParamCounts c;
  for (const KeySpec& k : keys) {
    const int64_t n = shape_numel(k.shape);
    if (k.used) {
      c.used += n;
      c.used_by_component[k.component] += n;
    } else {
      c.unused += n;
    }
  }
  return c;
}

BindReport check_weights(const WeightStore& ws, const ModelConfig& cfg) {
  namespace fs = std::filesystem;
  BindReport r;
  std::set<std::string> known;
  for (const KeySpec& k : model_keys(cfg, /*include_unused=*/true)) {
    known.insert(k.name);
    if (!k.used) {
      r.n_unused_present += ws.has(k.name) ? 1 : 0;
      continue;
    }
    if (!ws.has(k.name))
      throw IoError(ws.dir() + ": missing tensor \"" + k.name + "\" (expected shape " +
                    shape_str(k.shape) + ")");
    const TensorView& v = ws.get(k.name);
    const std::string file = fs::path(ws.file_of(k.name)).filename().string();
    if (v.shape != k.shape)
      throw ShapeError(file + ": " + k.name + ": shape " + shape_str(v.shape) + ", expected " +
                       shape_str(k.shape) + " (as config.json implies)");
    if (!is_float(v.dtype))
      throw ShapeError(file + ": " + k.name + ": dtype " + dtype_name(v.dtype) +
                       ", expected F32, F16 or BF16");
    ++r.n_used;
    r.params_by_dtype[v.dtype] += v.numel();
  }
  for (const std::string& key : ws.keys())
    if (!known.count(key)) r.unknown.push_back(key);
  return r;
}

}  // namespace dsvl::io
