#include "io/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/threadpool.h"
#include "io/model_keys.h"
#include "io/safetensors.h"

namespace dsvl::io {
namespace fs = std::filesystem;

namespace {

constexpr int kFullVocab = 102400;            // embedding rows of the released models
constexpr int64_t kChunk = int64_t(1) << 22;  // elements generated and written at a time
constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

// splitmix64's finaliser: a strong 64-bit mix, so element i of a stream is mix(key + i·γ).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const char* torch_dtype_name(DType t) {
  return t == DType::kBF16 ? "bfloat16" : t == DType::kF32 ? "float32" : "float16";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw IoError(p.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  if (!out.flush()) throw IoError(p.string() + ": write failed");
}

// Writes the tokenizer files; returns the number of ids the tokenizer uses.
int write_tokenizer(const SynthOptions& opt, const fs::path& out) {
  if (opt.tokenizer_dir.empty()) {
    const TokenizerFiles t = build_small_tokenizer();
    write_text(out / "tokenizer.json", t.tokenizer_json);
    write_text(out / "tokenizer_config.json", t.tokenizer_config_json);
    write_text(out / "special_tokens_map.json", t.special_tokens_map_json);
    return t.n_ids;
  }
  const fs::path src = opt.tokenizer_dir;
  const fs::path tj = src / "tokenizer.json";
  std::error_code ec;
  if (!fs::exists(tj, ec))
    throw IoError(src.string() + ": no tokenizer.json in --tokenizer folder");
  const std::string text = read_text(tj);
  const int n = tokenizer_id_count(text, tj.string());
  write_text(out / "tokenizer.json", text);
  for (const char* f : {"tokenizer_config.json", "special_tokens_map.json"})
    if (fs::exists(src / f, ec)) write_text(out / f, read_text(src / f));
  return n;
}

// Tensor i goes to shard shard_of[i]: contiguous runs of about total/K bytes, none empty.
std::vector<int> plan_shards(const std::vector<uint64_t>& bytes, int k) {
  const size_t n = bytes.size();
  uint64_t total = 0;
  for (uint64_t b : bytes) total += b;
  std::vector<int> shard_of(n, 0);
  uint64_t before = 0;
  size_t in_shard = 0;
  int s = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool full = before >= total * uint64_t(s + 1) / uint64_t(k);
    const bool rest_needed = n - i == size_t(k - 1 - s);  // one tensor per later shard
    if (s < k - 1 && in_shard > 0 && (full || rest_needed)) {
      ++s;
      in_shard = 0;
    }
    shard_of[i] = s;
    ++in_shard;
    before += bytes[i];
  }
  return shard_of;
}

std::string shard_name(int i, int k) {
  if (k == 1) return "model.safetensors";
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i + 1, k);
  return buf;
}

// Removes weight files of an earlier run (a stale index would shadow a new single file).
void remove_old_weights(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (n == "model.safetensors.index.json" ||
        (n.rfind("model", 0) == 0 && n.size() > 12 && n.substr(n.size() - 12) == ".safetensors"))
      fs::remove(e.path());
  }
}

// Converts float32 values to the storage dtype.
void store(const float* src, int64_t n, DType t, uint8_t* dst) {
  if (t == DType::kF32) {
    std::memcpy(dst, src, size_t(n) * 4);
    return;
  }
  uint16_t* d = reinterpret_cast<uint16_t*>(dst);
  if (t == DType::kF16) {
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
  }
}

}  // namespace

std::string synth_config_json(const std::string& like, bool tiny, int vocab, DType dtype) {
  const std::string real = released_config_file(like, "config.json");
  if (!tiny) return real;  // the released file, byte for byte
  // nlohmann::json keeps keys sorted, as transformers writes them.
  nlohmann::json j = nlohmann::json::parse(real);
  const nlohmann::json siglip = {{"heads", 4}, {"layers", 2}, {"mlp_ratio", 4}, {"width", 64}};
  auto& params = j["vision_config"]["params"];
  if (like == "7b-chat") {
    params["high_res_cfg"]["arch"] = {{"downsample_channels", {32, 64}},
                                      {"global_attn_indexes", {1}},
                                      {"heads", 2},
                                      {"layers", 2},
                                      {"prompt_embed_dim", 16},
                                      {"width", 32}};
    params["high_res_cfg"]["output_dim"] = 64;
    params["low_res_cfg"]["arch"] = siglip;
    params["low_res_cfg"]["output_dim"] = 64;
  } else {
    params["arch"] = siglip;
  }
  j["aligner_config"]["params"]["input_dim"] = 64;
  j["aligner_config"]["params"]["n_embed"] = 128;
  auto& lc = j["language_config"];
  lc["hidden_size"] = 128;
  lc["intermediate_size"] = 352;
  lc["num_attention_heads"] = 4;
  lc["num_key_value_heads"] = 4;
  lc["num_hidden_layers"] = 2;
  lc["vocab_size"] = vocab;
  lc["torch_dtype"] = torch_dtype_name(dtype);
  j["torch_dtype"] = torch_dtype_name(dtype);
  return j.dump(2) + "\n";
}

Init init_for(const std::string& name, const std::vector<int64_t>& shape) {
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  if (ends("hd_alpha_downsamples")) return {Init::kUniform, 0.3f, 0.8f};
  if (ends("pos_embed") || ends("rel_pos_h") || ends("rel_pos_w") || ends("latent"))
    return {Init::kNormal, 0.0f, 0.2f};
  if (ends("embed_tokens.weight")) return {Init::kNormal, 0.0f, 1.0f};
  if (ends(".bias")) return {Init::kNormal, 0.0f, 0.05f};
  if (shape.size() == 1) return {Init::kNormal, 1.0f, 0.1f};  // LayerNorm / RMSNorm weights
  const int64_t fan_in = shape.empty() || shape[0] == 0 ? 1 : shape_numel(shape) / shape[0];
  return {Init::kNormal, 0.0f, float(1.0 / std::sqrt(double(std::max<int64_t>(fan_in, 1))))};
}

void fill_random(uint64_t seed, uint64_t stream, int64_t begin, int64_t n, const Init& init,
                 float* out) {
  const uint64_t key = mix64(seed * kGamma + mix64(stream + 1));
  if (init.kind == Init::kUniform) {
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t x = mix64(key + uint64_t(begin + i + 1) * kGamma);
      out[i] = init.a + (init.b - init.a) * float(double(x >> 11) * 0x1.0p-53);
    }
    return;
  }
  // Irwin-Hall: the sum of four 16-bit uniforms, centred and scaled to unit variance. Cheap,
  // vectorisable, bounded at ±3.46σ, which is all a random checkpoint needs.
  const float scale = init.b * std::sqrt(3.0f) / 65536.0f;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t x = mix64(key + uint64_t(begin + i + 1) * kGamma);
    const float s = float((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48));
    out[i] = init.a + (s + 2.0f - 131072.0f) * scale;
  }
}

SynthResult synth_model(const SynthOptions& opt) {
  if (opt.like != "1.3b-chat" && opt.like != "7b-chat")
    throw RequestError("--like must be 1.3b-chat or 7b-chat, got \"" + opt.like + "\"");
  if (opt.out_dir.empty()) throw RequestError("--out is required");
  if (opt.dtype != DType::kF32 && opt.dtype != DType::kF16 && opt.dtype != DType::kBF16)
    throw RequestError("--dtype must be f32, f16 or bf16");
  if (opt.shards < 1 || opt.shards > 99999) throw RequestError("--shards must be 1 .. 99999");
  const fs::path out = opt.out_dir;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (!fs::is_directory(out, ec)) throw IoError(out.string() + ": cannot create the folder");

  SynthResult r;
  r.tokenizer_ids = write_tokenizer(opt, out);
  if (!opt.tiny && r.tokenizer_ids > kFullVocab)
    throw RequestError("the tokenizer uses " + std::to_string(r.tokenizer_ids) +
                       " ids, more than the model's " + std::to_string(kFullVocab) +
                       " embedding rows");
  const std::string config = synth_config_json(opt.like, opt.tiny, r.tokenizer_ids, opt.dtype);
  write_text(out / "config.json", config);
  for (const char* f : {"preprocessor_config.json", "processor_config.json"})
    write_text(out / f, released_config_file(opt.like, f));
  r.config = parse_model_config(config, (out / "config.json").string());
  r.config.dir = out.string();

  const std::vector<KeySpec> keys = model_keys(r.config);
  if (size_t(opt.shards) > keys.size()) throw RequestError("--shards exceeds the tensor count");
  std::vector<uint64_t> bytes;
  for (const KeySpec& k : keys) {
    bytes.push_back(uint64_t(shape_numel(k.shape)) * dtype_size(opt.dtype));
    r.data_bytes += bytes.back();
    r.n_params += shape_numel(k.shape);
  }
  r.n_tensors = int64_t(keys.size());
  const fs::space_info space = fs::space(out, ec);
  if (!ec && space.available < r.data_bytes + (64u << 20))
    throw IoError(out.string() + ": needs " + std::to_string(r.data_bytes >> 20) +
                  " MiB for the weights, only " + std::to_string(space.available >> 20) +
                  " MiB free");
  remove_old_weights(out);

  const std::vector<int> shard_of = plan_shards(bytes, opt.shards);
  nlohmann::json weight_map = nlohmann::json::object();
  std::vector<float> buf(size_t(std::min<int64_t>(kChunk, int64_t(r.n_params))));
  std::vector<uint8_t> raw(buf.size() * dtype_size(opt.dtype));
  uint64_t done = 0;
  size_t i = 0;
  for (int s = 0; s < opt.shards; ++s) {
    const std::string name = shard_name(s, opt.shards);
    std::vector<SafeTensorsWriter::Spec> specs;
    for (size_t j = i; j < keys.size() && shard_of[j] == s; ++j) {
      specs.push_back({keys[j].name, opt.dtype, keys[j].shape});
      weight_map[keys[j].name] = name;
    }
    SafeTensorsWriter w((out / name).string(), specs, {{"format", "pt"}});
    for (size_t j = 0; j < specs.size(); ++j, ++i) {
      const Init init = init_for(keys[i].name, keys[i].shape);
      const int64_t n = shape_numel(keys[i].shape);
      for (int64_t b = 0; b < n; b += kChunk) {
        const int64_t m = std::min(kChunk, n - b);
        parallel_for(
            m,
            [&](int64_t lo, int64_t hi) {
              fill_random(opt.seed, i, b + lo, hi - lo, init, buf.data() + lo);
              store(buf.data() + lo, hi - lo, opt.dtype, raw.data() + lo * dtype_size(opt.dtype));
            },
            1 << 14);
        w.append(raw.data(), size_t(m) * dtype_size(opt.dtype));
        done += uint64_t(m) * dtype_size(opt.dtype);
        if (opt.progress) opt.progress(done, r.data_bytes);
      }
    }
    w.finish();
    // Benchmarks then load it as a user loads a real checkpoint: cold, in 2 MB pages.
    drop_from_page_cache((out / name).string());
    r.files.push_back((out / name).string());
  }
  if (opt.shards > 1) {
    const nlohmann::json index = {{"metadata", {{"total_size", r.data_bytes}}},
                                  {"weight_map", weight_map}};
    write_text(out / "model.safetensors.index.json", index.dump(2) + "\n");
  }
  return r;
}

}  // namespace dsvl::io
