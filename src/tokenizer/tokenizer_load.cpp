// Loading: tokenizer.json into its components, then the parts of tokenizer_config.json
// that change token ids (special tokens, LlamaTokenizerFast's BOS/EOS rule).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_depth.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_load.h"
#include "tokenizer/json_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_state.h"

namespace dsvl::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (!f && !f.eof()) throw IoError(p.string() + ": read failed");
  return ss.str();
}

json parse_json(std::string_view text, const std::string& origin) {
  if (json_depth(text) > kMaxJsonDepth)
    throw IoError(origin + ": nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw IoError(origin + ": invalid JSON (" + e.what() + ")");
  }
}

AddedToken parse_added_token(const json& j, const char* what) {
  AddedToken t;
  t.content = json_string(j, "content", what);
  t.special = json_bool(j, "special", false, what);
  t.normalized = json_bool(j, "normalized", !t.special, what);
  t.lstrip = json_bool(j, "lstrip", false, what);
  t.rstrip = json_bool(j, "rstrip", false, what);
  t.single_word = json_bool(j, "single_word", false, what);
  return t;
}

// A special token of tokenizer_config.json: "text", {"content": "text", ...} or null.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw ConfigError("tokenizer_config.json: " + std::string(key) + " " + it->dump() +
                    " is neither a string nor {\"content\": ...}");
}

void parse_decoder(const json& j, TokenizerState& s) {
  if (j.is_null()) {
    s.byte_level_decoder = false;
    return;
  }
  std::string type = json_type(j, "decoder");
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const auto& sub : json_array(j, "decoders", "decoder Sequence")) parse_decoder(sub, s);
    return;
  }
  throw ConfigError("decoder type \"" + type +
                    "\" is not supported (supported: ByteLevel, Sequence of ByteLevel, null)");
}

// transformers' PreTrainedTokenizerFast.__init__ adds the config's special tokens that
// tokenizer.json does not list as added tokens (e.g. a missing <image_placeholder> becomes
// id len(tokenizer)), and tokens of added_tokens_decoder that it lacks.
std::vector<AddedToken> config_added_tokens(const json& cfg, const AddedVocabulary& added) {
  std::vector<AddedToken> out;
  auto missing = [&](const std::string& c) {
    if (added.id_of(c)) return false;
    for (const auto& t : out)
      if (t.content == c) return false;
    return true;
  };
  if (auto d = cfg.find("added_tokens_decoder"); d != cfg.end() && d->is_object()) {
    std::vector<std::pair<long, AddedToken>> by_id;
    for (const auto& [key, value] : d->items())
      by_id.emplace_back(std::stol(key),
                         parse_added_token(value, "tokenizer_config added_tokens_decoder"));
    std::sort(by_id.begin(), by_id.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, t] : by_id)
      if (missing(t.content)) out.push_back(t);
  }
  std::vector<std::string> specials;
  for (const char* key :
       {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
    if (auto t = config_token(cfg, key)) specials.push_back(*t);
  if (auto a = cfg.find("additional_special_tokens"); a != cfg.end() && a->is_array())
    for (const auto& e : *a)
      specials.push_back(e.is_string() ? e.get<std::string>()
                                       : json_string(e, "content", "additional_special_tokens"));
  for (const auto& c : specials) {
    if (!missing(c)) continue;
    AddedToken t;
    t.content = c;
    t.special = true;
    t.normalized = false;
    out.push_back(t);
  }
  return out;
}

bool is_llama_class(const std::string& cls) {
  return cls == "LlamaTokenizer" || cls == "LlamaTokenizerFast" || cls == "CodeLlamaTokenizer" ||
         cls == "CodeLlamaTokenizerFast";
}

void apply_config(const json& cfg, const json& post_processor, TokenizerState& s) {
  std::string cls =
      cfg.is_object() && cfg.contains("tokenizer_class") && cfg["tokenizer_class"].is_string()
          ? cfg["tokenizer_class"].get<std::string>()
          : "";
  std::optional<std::string> bos, eos;
  if (cfg.is_object()) {
    bos = config_token(cfg, "bos_token");
    eos = config_token(cfg, "eos_token");
  }
  if (bos) s.bos = s.token_id(*bos).value_or(-1);
  if (eos) s.eos = s.token_id(*eos).value_or(-1);
  if (!is_llama_class(cls)) {
    s.special_rule = parse_post_processor(post_processor);
    return;
  }
  // LlamaTokenizerFast.update_post_processor replaces the post-processor with
  // "[BOS] $A [EOS]" according to add_bos_token (default true) / add_eos_token (false).
  if (json_bool(cfg, "add_bos_token", true, "tokenizer_config.json")) {
    if (s.bos < 0)
      throw ConfigError("tokenizer_config.json: add_bos_token is true but bos_token " +
                        (bos ? "\"" + *bos + "\" is not a token" : std::string("is missing")));
    s.special_rule.prefix = {s.bos};
  }
  if (json_bool(cfg, "add_eos_token", false, "tokenizer_config.json")) {
    if (s.eos < 0)
      throw ConfigError("tokenizer_config.json: add_eos_token is true but eos_token " +
                        (eos ? "\"" + *eos + "\" is not a token" : std::string("is missing")));
    s.special_rule.suffix = {s.eos};
  }
}

std::shared_ptr<TokenizerState> build(const json& j, BpeTables tables, const json& cfg) {
  if (!j.is_object()) throw ConfigError("the top level is not a JSON object");
  auto s = std::make_shared<TokenizerState>();
  auto get = [&](const char* key) { return j.contains(key) ? j[key] : json(); };
  s->normalizer = Normalizer::from_json(get("normalizer"));
  s->pre_tokenizer = PreTokenizer::from_json(get("pre_tokenizer"));
  if (!j.contains("model")) throw ConfigError("key \"model\" is missing");
  s->model = Bpe::from_json(j["model"], std::move(tables));
  parse_decoder(get("decoder"), *s);

  std::vector<AddedToken> tokens;
  if (j.contains("added_tokens") && !j["added_tokens"].is_null())
    for (const auto& t : json_array(j, "added_tokens", "top level"))
      tokens.push_back(parse_added_token(t, "added_tokens"));
  auto model_id = [&](const std::string& c) { return s->model.token_to_id(c); };
  s->added.add(tokens, s->model.size(), model_id);
  if (cfg.is_object()) s->added.add(config_added_tokens(cfg, s->added), s->model.size(), model_id);
  s->added.finalize(s->normalizer);

  apply_config(cfg, get("post_processor"), *s);
  s->max_id = std::max(s->model.max_id(), s->added.max_id());
  s->build_decode_table();
  return s;
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json,
                               std::string_view tokenizer_config_json, const std::string& origin) {
  BpeTables tables;
  json j, cfg;
  try {
    j = parse_tokenizer_json(tokenizer_json, origin, tables);
    if (!tokenizer_config_json.empty())
      cfg = parse_json(tokenizer_config_json, origin + " (tokenizer_config.json)");
    return Tokenizer(build(j, std::move(tables), cfg));
  } catch (const ConfigError& e) {
    throw ConfigError(origin + ": " + e.what());
  }
}

Tokenizer Tokenizer::load(const std::string& path) {
  fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) throw IoError(path + ": no such file or folder");
  fs::path file = fs::is_directory(p, ec) ? p / "tokenizer.json" : p;
  if (!fs::exists(file, ec)) throw IoError(path + ": no tokenizer.json in this folder");
  fs::path config = file.parent_path() / "tokenizer_config.json";
  std::string config_text = fs::exists(config, ec) ? read_file(config) : std::string();
  return from_json(read_file(file), config_text, file.string());
}

}  // namespace dsvl::tokenizer
