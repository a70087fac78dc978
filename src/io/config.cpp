#include "io/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_depth.h"

namespace dsvl::io {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Limits that keep a corrupt config from asking for absurd allocations later on. Sizes that
// name tensor shapes are checked against the checkpoint at load; these bound what is computed
// from a config before that (key tables, token counts) and what never meets a tensor.
constexpr int kMaxDim = 1 << 20;
constexpr int kMaxTowerLayers = 1024;  // the released towers have 12 and 24 blocks
constexpr int kMaxImageSize = 4096;    // SigLIP input side (released: 384)

struct Reader {
  const std::string& file;
  std::string path;  // "vision_config.params.high_res_cfg"

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(file + ": " + (path.empty() ? key : path + "." + key) + ": " + what);
  }
  const json& object(const json& j, const std::string& key) const {
    if (!j.contains(key)) fail(key, "missing");
    if (!j[key].is_object()) fail(key, "must be an object");
    return j[key];
  }
  int integer(const json& j, const std::string& key, std::optional<int> def, int lo = 1,
              int hi = kMaxDim) const {
    if (!j.contains(key) || j[key].is_null()) {
      if (!def) fail(key, "missing");
      return *def;
    }
    const json& v = j[key];
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + v.dump());
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi)
      fail(key, "value " + std::to_string(x) + " out of range [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    return int(x);
  }
  double number(const json& j, const std::string& key, double def, double lo, double hi) const {
    if (!j.contains(key) || j[key].is_null()) return def;
    const json& v = j[key];
    if (!v.is_number()) fail(key, "must be a number, got " + v.dump());
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) fail(key, "value " + v.dump() + " out of range");
    return x;
  }
  std::string string(const json& j, const std::string& key, std::optional<std::string> def) const {
    if (!j.contains(key) || j[key].is_null()) {
      if (!def) fail(key, "missing");
      return *def;
    }
    if (!j[key].is_string()) fail(key, "must be a string, got " + j[key].dump());
    return j[key].get<std::string>();
  }
  bool boolean(const json& j, const std::string& key, bool def) const {
    if (!j.contains(key) || j[key].is_null()) return def;
    if (!j[key].is_boolean()) fail(key, "must be true or false, got " + j[key].dump());
    return j[key].get<bool>();
  }
  std::array<float, 3> triple(const json& j, const std::string& key,
                              std::array<float, 3> def) const {
    if (!j.contains(key) || j[key].is_null()) return def;
    const json& v = j[key];
    if (!v.is_array() || v.size() != 3) fail(key, "must be a list of 3 numbers");
    std::array<float, 3> r;
    for (int i = 0; i < 3; ++i) {
      if (!v[i].is_number()) fail(key, "must be a list of 3 numbers");
      r[i] = v[i].get<float>();
    }
    return r;
  }
  std::vector<int> int_list(const json& j, const std::string& key, std::vector<int> def) const {
    if (!j.contains(key)) return def;
    const json& v = j[key];
    if (!v.is_array()) fail(key, "must be a list of integers");
    std::vector<int> r;
    for (auto& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > kMaxDim)
        fail(key, "must be a list of non-negative integers");
      r.push_back(e.get<int>());
    }
    return r;
  }
  Reader sub(const std::string& key) const {
    return Reader{file, path.empty() ? key : path + "." + key};
  }
};

SamConfig parse_sam(const json& j, const Reader& r) {
  SamConfig c;
  c.model_name = r.string(j, "model_name", std::nullopt);
  if (c.model_name != "sam_b_downsample")
    r.fail("model_name",
           "unknown high-resolution tower \"" + c.model_name + "\" (supported: sam_b_downsample)");
  c.image_size = r.integer(j, "image_size", 1024);
  c.output_dim = r.integer(j, "output_dim", 1024);
  c.pixel_mean = r.triple(j, "pixel_mean", c.pixel_mean);
  c.pixel_std = r.triple(j, "pixel_std", c.pixel_std);
  if (j.contains("arch")) {
    const Reader a = r.sub("arch");
    const json& arch = r.object(j, "arch");
    c.width = a.integer(arch, "width", c.width);
    c.layers = a.integer(arch, "layers", c.layers, 1, kMaxTowerLayers);
    c.heads = a.integer(arch, "heads", c.heads);
    c.mlp_ratio = a.integer(arch, "mlp_ratio", c.mlp_ratio);
    c.window_size = a.integer(arch, "window_size", c.window_size);
    c.global_attn_indexes = a.int_list(arch, "global_attn_indexes", c.global_attn_indexes);
    c.prompt_embed_dim = a.integer(arch, "prompt_embed_dim", c.prompt_embed_dim);
    c.downsample_channels = a.int_list(arch, "downsample_channels", c.downsample_channels);
  }
  if (c.image_size != 1024)
    r.fail("image_size",
           "SAM runs at 1024 (its 64x64 position table and 96x96 neck resize are fixed), got " +
               std::to_string(c.image_size));
  if (c.width % c.heads != 0)
    r.fail("arch.heads", "width " + std::to_string(c.width) + " is not divisible by heads " +
                             std::to_string(c.heads));
  if (c.downsample_channels.size() != 2 || c.downsample_channels[0] < 1 ||
      c.downsample_channels[1] < 1)
    r.fail("arch.downsample_channels", "must list exactly 2 positive channel counts");
  if (c.global_attn_indexes.empty())
    r.fail("arch.global_attn_indexes",
           "needs at least one global block (the hd branch taps the first)");
  for (int g : c.global_attn_indexes)
    if (g >= c.layers)
      r.fail("arch.global_attn_indexes",
             "index " + std::to_string(g) + " >= layers " + std::to_string(c.layers));
  return c;
}

SiglipConfig parse_siglip(const json& j, const Reader& r) {
  SiglipConfig c;
  c.model_name = r.string(j, "model_name", std::nullopt);
  if (c.model_name != "siglip_large_patch16_384")
    r.fail("model_name",
           "unknown vision tower \"" + c.model_name + "\" (supported: siglip_large_patch16_384)");
  c.image_size = r.integer(j, "image_size", 384, 16, kMaxImageSize);
  c.output_dim = r.integer(j, "output_dim", 1024);
  c.pixel_mean = r.triple(j, "pixel_mean", c.pixel_mean);
  c.pixel_std = r.triple(j, "pixel_std", c.pixel_std);
  c.select_layer = r.integer(j, "select_layer", -1, -1000, 1000);
  if (j.contains("arch")) {
    const Reader a = r.sub("arch");
    const json& arch = r.object(j, "arch");
    c.width = a.integer(arch, "width", c.width);
    c.layers = a.integer(arch, "layers", c.layers, 1, kMaxTowerLayers);
    c.heads = a.integer(arch, "heads", c.heads);
    c.mlp_ratio = a.number(arch, "mlp_ratio", c.mlp_ratio, 0.01, 64);
  }
  // The official tower builds depth + select_layer + 1 blocks for a negative select_layer
  // (-1: all of them) and select_layer blocks for a positive one.
  if (c.select_layer < 0) {
    if (c.layers + c.select_layer + 1 < 1) r.fail("select_layer", "selects no block");
    c.layers = c.layers + c.select_layer + 1;
  } else if (c.select_layer > 0) {
    c.layers = std::min(c.layers, c.select_layer);  // the official code clamps, too
  }
  if (c.image_size % c.patch_size != 0) r.fail("image_size", "not a multiple of the patch size 16");
  if (c.width % c.heads != 0)
    r.fail("arch.heads", "width " + std::to_string(c.width) + " is not divisible by heads " +
                             std::to_string(c.heads));
  return c;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ConfigError(p.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse_json(const std::string& text, const std::string& name) {
  if (json_depth(text) > kMaxJsonDepth)
    throw ConfigError(name + ": nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw ConfigError(name + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw ConfigError(name + ": not valid JSON: " + e.what());
  }
}

}  // namespace

ModelConfig parse_model_config(const std::string& text, const std::string& name) {
  const json j = parse_json(text, name);
  const Reader top{name, ""};
  ModelConfig m;
  m.torch_dtype = top.string(j, "torch_dtype", std::string("float16"));

  // ---- vision ----
  const json& vc = top.object(j, "vision_config");
  const Reader vr = top.sub("vision_config");
  const std::string cls = vr.string(vc, "cls", std::nullopt);
  const json& params = vr.object(vc, "params");
  const Reader pr = vr.sub("params");
  if (cls == "CLIPVisionTower") {
    m.vision.kind = VisionKind::kSiglip;
    m.vision.siglip = parse_siglip(params, pr);
  } else if (cls == "HybridVisionTower") {
    m.vision.kind = VisionKind::kHybrid;
    m.vision.sam = parse_sam(pr.object(params, "high_res_cfg"), pr.sub("high_res_cfg"));
    m.vision.siglip = parse_siglip(pr.object(params, "low_res_cfg"), pr.sub("low_res_cfg"));
    const std::string concat = pr.string(params, "concat_type", std::string("tuple"));
    if (concat != "tuple")
      pr.fail("concat_type",
              "only \"tuple\" is supported (the released models), got \"" + concat + "\"");
  } else {
    vr.fail("cls", "unknown vision tower class \"" + cls +
                       "\" (supported: CLIPVisionTower, HybridVisionTower)");
  }

  // ---- aligner ----
  const json& ac = top.object(j, "aligner_config");
  const Reader ar = top.sub("aligner_config");
  const std::string acls = ar.string(ac, "cls", std::string("MlpProjector"));
  if (acls != "MlpProjector") ar.fail("cls", "unknown aligner class \"" + acls + "\"");
  const json& ap = ar.object(ac, "params");
  const Reader apr = ar.sub("params");
  m.aligner.projector_type = apr.string(ap, "projector_type", std::nullopt);
  m.aligner.depth = apr.integer(ap, "depth", 1, 1, 64);
  m.aligner.input_dim = apr.integer(ap, "input_dim", std::nullopt);
  m.aligner.n_embed = apr.integer(ap, "n_embed", std::nullopt);
  if (m.aligner.projector_type == "mlp_gelu") {
    m.aligner.kind = AlignerKind::kMlpGelu;
  } else if (m.aligner.projector_type == "low_high_hybrid_split_mlp_gelu") {
    m.aligner.kind = AlignerKind::kHybridSplit;
  } else {
    apr.fail("projector_type", "unsupported projector \"" + m.aligner.projector_type +
                                   "\" (supported: mlp_gelu, low_high_hybrid_split_mlp_gelu)");
  }
  if (m.aligner.kind == AlignerKind::kHybridSplit && m.vision.kind != VisionKind::kHybrid)
    apr.fail("projector_type", "the hybrid split aligner needs the HybridVisionTower");
  if (m.aligner.kind == AlignerKind::kMlpGelu && m.vision.kind == VisionKind::kHybrid)
    apr.fail("projector_type", "the HybridVisionTower needs low_high_hybrid_split_mlp_gelu");
  if (m.aligner.kind == AlignerKind::kHybridSplit && m.aligner.n_embed % 2 != 0)
    apr.fail("n_embed", "must be even for the hybrid split aligner");
  if (m.aligner.input_dim != m.vision.siglip.width)
    apr.fail("input_dim", std::to_string(m.aligner.input_dim) + " differs from the vision width " +
                              std::to_string(m.vision.siglip.width));
  if (m.vision.sam && m.vision.sam->out_channels() != m.aligner.input_dim)
    apr.fail("input_dim", std::to_string(m.aligner.input_dim) +
                              " differs from the SAM output channels " +
                              std::to_string(m.vision.sam->out_channels()));

  // ---- language model (transformers LlamaConfig defaults) ----
  const json& lc = top.object(j, "language_config");
  const Reader lr = top.sub("language_config");
  LlmConfig& l = m.llm;
  l.vocab_size = lr.integer(lc, "vocab_size", 32000);
  l.hidden_size = lr.integer(lc, "hidden_size", 4096);
  l.intermediate_size = lr.integer(lc, "intermediate_size", 11008);
  l.num_hidden_layers = lr.integer(lc, "num_hidden_layers", 32, 1, 4096);
  l.num_attention_heads = lr.integer(lc, "num_attention_heads", 32, 1, 4096);
  l.num_key_value_heads = lr.integer(lc, "num_key_value_heads", l.num_attention_heads, 1, 4096);
  l.max_position_embeddings = lr.integer(lc, "max_position_embeddings", 2048, 1, 1 << 24);
  l.rms_norm_eps = lr.number(lc, "rms_norm_eps", 1e-6, 0, 1);
  l.rope_theta = lr.number(lc, "rope_theta", 10000.0, 1, 1e12);
  if (lc.contains("rope_scaling") && !lc["rope_scaling"].is_null())
    lr.fail("rope_scaling", "RoPE scaling is not supported (the released models use none)");
  if (lr.string(lc, "hidden_act", std::string("silu")) != "silu")
    lr.fail("hidden_act", "only silu is supported");
  if (lr.boolean(lc, "attention_bias", false))
    lr.fail("attention_bias", "attention biases are not supported");
  if (lr.boolean(lc, "tie_word_embeddings", false))
    lr.fail("tie_word_embeddings", "tied embeddings are not supported");
  if (l.hidden_size % l.num_attention_heads != 0)
    lr.fail("num_attention_heads", "hidden_size " + std::to_string(l.hidden_size) +
                                       " is not divisible by " +
                                       std::to_string(l.num_attention_heads));
  if (l.head_dim() % 2 != 0) lr.fail("num_attention_heads", "head dim must be even for RoPE");
  if (l.num_attention_heads % l.num_key_value_heads != 0)
    lr.fail("num_key_value_heads", std::to_string(l.num_key_value_heads) +
                                       " does not divide num_attention_heads " +
                                       std::to_string(l.num_attention_heads));
  if (m.aligner.n_embed != l.hidden_size)
    top.fail("aligner_config.params.n_embed", std::to_string(m.aligner.n_embed) +
                                                  " differs from the LLM hidden_size " +
                                                  std::to_string(l.hidden_size));

  // Processor defaults implied by the tower (overridden by preprocessor_config.json).
  if (m.is_hybrid()) {
    m.image_processor.image_size = m.vision.sam->image_size;
    m.image_processor.image_mean = m.vision.sam->pixel_mean;
    m.image_processor.image_std = m.vision.sam->pixel_std;
  } else {
    m.image_processor.image_size = m.vision.siglip.image_size;
    m.image_processor.image_mean = m.vision.siglip.pixel_mean;
    m.image_processor.image_std = m.vision.siglip.pixel_std;
  }
  return m;
}

ModelConfig load_model_config(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw ConfigError(dir + ": model folder not found");
  const fs::path cfg = fs::path(dir) / "config.json";
  if (!fs::exists(cfg, ec)) throw ConfigError(dir + ": no config.json in the model folder");
  ModelConfig m = parse_model_config(read_file(cfg), cfg.string());
  m.dir = dir;

  const fs::path pp = fs::path(dir) / "preprocessor_config.json";
  if (fs::exists(pp, ec)) {
    const std::string name = pp.string();
    const json j = parse_json(read_file(pp), name);
    const Reader r{name, ""};
    ImageProcessorConfig& p = m.image_processor;
    p.image_size = r.integer(j, "image_size", p.image_size, 1, 16384);
    p.min_size = r.integer(j, "min_size", 14, 1, 16384);
    p.image_mean = r.triple(j, "image_mean", p.image_mean);
    p.image_std = r.triple(j, "image_std", p.image_std);
    p.rescale_factor = r.number(j, "rescale_factor", p.rescale_factor, 0, 1);
    p.do_normalize = r.boolean(j, "do_normalize", false);
    // A min_size above the tower input would make the processor's "resized" image larger than
    // the square it is padded into (and allocate for it) before anything notices.
    if (p.min_size > p.image_size)
      r.fail("min_size",
             std::to_string(p.min_size) + " exceeds image_size " + std::to_string(p.image_size));
    const int want = m.is_hybrid() ? m.vision.sam->image_size : m.vision.siglip.image_size;
    if (p.image_size != want)
      r.fail("image_size", std::to_string(p.image_size) +
                               " disagrees with the vision tower input " + std::to_string(want));
    if (p.do_normalize)
      r.fail("do_normalize", "true is not supported: the towers normalise internally (spec §4)");
  }
  const fs::path pc = fs::path(dir) / "processor_config.json";
  if (fs::exists(pc, ec)) {
    const std::string name = pc.string();
    const json j = parse_json(read_file(pc), name);
    const Reader r{name, ""};
    ChatProcessorConfig& c = m.chat;
    c.image_tag = r.string(j, "image_tag", c.image_tag);
    c.num_image_tokens = r.integer(j, "num_image_tokens", 576, 1, 1 << 20);
    c.sft_format = r.string(j, "sft_format", c.sft_format);
    c.add_special_token = r.boolean(j, "add_special_token", false);
    c.mask_prompt = r.boolean(j, "mask_prompt", true);
    c.ignore_id = r.integer(j, "ignore_id", -100, -1000000, 1000000);
    if (c.num_image_tokens != 576)
      r.fail("num_image_tokens",
             "the towers produce 576 tokens per image, got " + std::to_string(c.num_image_tokens));
    if (c.sft_format != "deepseek")
      r.fail("sft_format",
             "only the \"deepseek\" template is supported, got \"" + c.sft_format + "\"");
  }
  return m;
}

}  // namespace dsvl::io
