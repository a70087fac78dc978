#include "io/model_info.h"

#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "io/safetensors.h"

namespace dsvl::io {
namespace {

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::string int_list(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// "1,975,235,584 (1.98 B)"
std::string params_str(int64_t n) {
  if (n >= 1000000000) return fmt("%15s  (%.2f B)", with_commas(n).c_str(), double(n) / 1e9);
  if (n >= 1000000) return fmt("%15s  (%.1f M)", with_commas(n).c_str(), double(n) / 1e6);
  return fmt("%15s", with_commas(n).c_str());
}

std::string sam_line(const SamConfig& s) {
  return fmt(
      "SAM-B ViTDet (%s): %d px, patch %d, width %d, %d layers, %d heads, window %d, "
      "global blocks %s, neck %d, downsample %d -> %d",
      s.model_name.c_str(), s.image_size, s.patch_size, s.width, s.layers, s.heads, s.window_size,
      int_list(s.global_attn_indexes).c_str(), s.prompt_embed_dim, s.downsample_channels[0],
      s.downsample_channels[1]);
}

std::string siglip_line(const SiglipConfig& s) {
  return fmt("SigLIP ViT (%s): %d px, patch %d, %d tokens, width %d, %d layers, %d heads, MLP %d",
             s.model_name.c_str(), s.image_size, s.patch_size, s.n_tokens(), s.width, s.layers,
             s.heads, s.mlp_dim());
}

std::string aligner_line(const AlignerConfig& a) {
  if (a.kind == AlignerKind::kHybridSplit)
    return fmt("%s, depth %d: (%d -> %d) x2 (high | low), GELU, -> %d", a.projector_type.c_str(),
               a.depth, a.input_dim, a.n_embed / 2, a.n_embed);
  return fmt("%s, depth %d: %d -> %d", a.projector_type.c_str(), a.depth, a.input_dim, a.n_embed);
}

std::string llm_line(const LlmConfig& l) {
  return fmt(
      "LLaMA: %d layers, hidden %d, FFN %d, %d heads (%d KV, head dim %d), vocab %d, "
      "rope theta %g, rms eps %g",
      l.num_hidden_layers, l.hidden_size, l.intermediate_size, l.num_attention_heads,
      l.num_key_value_heads, l.head_dim(), l.vocab_size, l.rope_theta, l.rms_norm_eps);
}

// Components in data-flow order, as printed.
std::vector<std::string> components(const ModelConfig& c) {
  if (c.is_hybrid()) return {kCompVisionHigh, kCompVisionLow, kCompAligner, kCompLlm};
  return {kCompVision, kCompAligner, kCompLlm};
}

}  // namespace

std::string with_commas(int64_t n) {
  std::string d = std::to_string(n < 0 ? -n : n), r;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) r += ',';
    r += d[i];
  }
  return n < 0 ? "-" + r : r;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt("%llu B", (unsigned long long)n) : fmt("%.2f %s", v, units[u]);
}

uint64_t ModelInfo::kv_bytes_per_token(int bytes_per_elem) const {
  const LlmConfig& l = config.llm;
  return 2ull * uint64_t(l.num_hidden_layers) * uint64_t(l.num_key_value_heads) *
         uint64_t(l.head_dim()) * uint64_t(bytes_per_elem);
}

std::string ModelInfo::layout() const {
  return config.is_hybrid() ? "7B-style hybrid: SAM-B (high res) + SigLIP-L (low res)"
                            : "1.3B-style SigLIP-only";
}

ModelInfo model_info_from_config(const ModelConfig& cfg) {
  ModelInfo m;
  m.dir = cfg.dir;
  m.config = cfg;
  m.params = count_params(model_keys(cfg));
  return m;
}

ModelInfo inspect_model(const std::string& dir) {
  ModelInfo m = model_info_from_config(load_model_config(dir));
  const WeightStore ws = WeightStore::open(dir);
  const BindReport r = check_weights(ws, m.config);
  m.has_weights = true;
  m.n_unknown = int(r.unknown.size());
  std::set<std::string> files;
  for (const std::string& k : ws.keys()) {
    const TensorView& v = ws.get(k);
    ++m.tensors_by_dtype[v.dtype];
    ++m.n_tensors;
    m.params_in_files += v.numel();
    files.insert(ws.file_of(k));
  }
  m.n_files = int(files.size());
  m.bytes_on_disk = ws.bytes_on_disk();
  return m;
}

std::string format_model_info(const ModelInfo& m) {
  const ModelConfig& c = m.config;
  std::string s;
  auto line = [&](const char* label, const std::string& text) {
    s += fmt("  %-13s %s\n", label, text.c_str());
  };
  s += "model " + (m.dir.empty() ? std::string("(config only)") : m.dir) + "\n";
  line("layout", m.layout());
  if (c.is_hybrid()) {
    line("vision.high", sam_line(*c.vision.sam));
    line("vision.low", siglip_line(c.vision.siglip));
  } else {
    line("vision", siglip_line(c.vision.siglip));
  }
  line("aligner", aligner_line(c.aligner));
  line("llm", llm_line(c.llm));
  line("image", fmt("%d px input, %d image tokens per image", c.image_processor.image_size,
                    c.chat.num_image_tokens));

  s += "parameters\n";
  for (const std::string& comp : components(c)) {
    auto it = m.params.used_by_component.find(comp);
    line(comp.c_str(), params_str(it == m.params.used_by_component.end() ? 0 : it->second));
  }
  line("used", params_str(m.params.used));
  line("unused", params_str(m.params.unused) + "  (attn_pool, high/low_layer_norm: never run)");
  line("total", params_str(m.has_weights ? m.params_in_files : m.params.total()));

  if (m.has_weights) {
    std::string d;
    for (const auto& [t, n] : m.tensors_by_dtype)
      d += (d.empty() ? "" : ", ") + fmt("%s: %lld", dtype_name(t), (long long)n);
    d += m.tensors_by_dtype.size() == 1 ? " tensors"
                                        : fmt(" (%lld tensors)", (long long)m.n_tensors);
    if (m.n_unknown) d += fmt(", %d not known to dsvl (ignored)", m.n_unknown);
    line("dtypes", d);
    line("on disk",
         fmt("%s in %d file%s (%s bytes)", human_bytes(m.bytes_on_disk).c_str(), m.n_files,
             m.n_files == 1 ? "" : "s", with_commas(int64_t(m.bytes_on_disk)).c_str()));
  }
  line("memory",
       fmt("weights %s as f32, %s as bf16 (used tensors only)",
           human_bytes(m.weight_bytes(4)).c_str(), human_bytes(m.weight_bytes(2)).c_str()));
  const int ctx = 4096;  // the official chat demo's context
  line("KV cache", fmt("%s per token as f32, %s as bf16; %d tokens: %s f32, %s bf16",
                       human_bytes(m.kv_bytes_per_token(4)).c_str(),
                       human_bytes(m.kv_bytes_per_token(2)).c_str(), ctx,
                       human_bytes(m.kv_bytes_per_token(4) * ctx).c_str(),
                       human_bytes(m.kv_bytes_per_token(2) * ctx).c_str()));
  return s;
}

std::string model_info_json(const ModelInfo& m) {
  using json = nlohmann::ordered_json;
  const ModelConfig& c = m.config;
  json j;
  j["dir"] = m.dir;
  j["layout"] = c.is_hybrid() ? "hybrid" : "siglip";
  json comps = json::object();
  for (const std::string& comp : components(c)) {
    auto it = m.params.used_by_component.find(comp);
    comps[comp] = it == m.params.used_by_component.end() ? 0 : it->second;
  }
  j["params"] = {{"components", comps},
                 {"used", m.params.used},
                 {"unused", m.params.unused},
                 {"total", m.has_weights ? m.params_in_files : m.params.total()}};
  j["llm"] = {{"layers", c.llm.num_hidden_layers},     {"hidden", c.llm.hidden_size},
              {"ffn", c.llm.intermediate_size},        {"heads", c.llm.num_attention_heads},
              {"kv_heads", c.llm.num_key_value_heads}, {"vocab", c.llm.vocab_size}};
  if (m.has_weights) {
    json d = json::object();
    for (const auto& [t, n] : m.tensors_by_dtype) d[dtype_name(t)] = n;
    j["dtypes"] = d;
    j["tensors"] = m.n_tensors;
    j["files"] = m.n_files;
    j["bytes_on_disk"] = m.bytes_on_disk;
  }
  j["weight_bytes"] = {{"f32", m.weight_bytes(4)}, {"bf16", m.weight_bytes(2)}};
  j["kv_bytes_per_token"] = {{"f32", m.kv_bytes_per_token(4)}, {"bf16", m.kv_bytes_per_token(2)}};
  return j.dump();
}

}  // namespace dsvl::io
