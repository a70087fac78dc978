// dsvl synth: tiny folders of both layouts load and bind; sharding, determinism, the built-in
// tokenizer, the embedded released configs. Full size only with DSVL_SLOW_TESTS=1.
#include "io/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/shared.h"
#include "core/error.h"
#include "io/model_info.h"
#include "io/model_keys.h"
#include "io/safetensors.h"

namespace dsvl::io {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SynthResult synth(const std::string& like, const std::string& dir, int shards = 1,
                  uint64_t seed = 0, DType dtype = DType::kF16) {
  SynthOptions o;
  o.like = like;
  o.out_dir = dir;
  o.tiny = true;
  o.shards = shards;
  o.seed = seed;
  o.dtype = dtype;
  return synth_model(o);
}

TEST(Synth, TinyFoldersOfBothLayoutsLoadAndBind) {
  for (const char* like : {"1.3b-chat", "7b-chat"}) {
    SCOPED_TRACE(like);
    const std::string dir = test::temp_dir("synth");
    const SynthResult r = synth(like, dir);
    const ModelConfig cfg = load_model_config(dir);
    EXPECT_EQ(cfg.is_hybrid(), std::string(like) == "7b-chat");
    EXPECT_EQ(cfg.llm.vocab_size, r.tokenizer_ids);  // --tiny sizes the vocabulary
    const WeightStore ws = WeightStore::open(dir);
    const BindReport b = check_weights(ws, cfg);
    EXPECT_EQ(b.n_used, int(model_keys(cfg, false).size()));
    EXPECT_TRUE(b.unknown.empty());
    EXPECT_EQ(ws.keys().size(), model_keys(cfg).size());  // unused tensors are written too
    EXPECT_EQ(b.params_by_dtype.begin()->first, DType::kF16);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
                          "processor_config.json", "special_tokens_map.json"})
      EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
    // Values have the intended scale: norms near 1, linear weights ~ 1/sqrt(fan_in).
    const Tensor norm = to_float(ws.get("language_model.model.norm.weight"));
    for (float v : norm.data) EXPECT_NEAR(v, 1.0f, 0.4f);
    const Tensor q = to_float(ws.get("language_model.model.layers.0.self_attn.q_proj.weight"));
    double ss = 0;
    for (float v : q.data) ss += double(v) * v;
    EXPECT_NEAR(std::sqrt(ss / double(q.numel())), 1.0 / std::sqrt(128.0), 0.01);
  }
}

TEST(Synth, ShardedFolderMatchesSingleFileAndHfIndexLayout) {
  const std::string one = test::temp_dir("synth"), three = test::temp_dir("synth");
  synth("7b-chat", one, 1, 5, DType::kBF16);
  const SynthResult r = synth("7b-chat", three, 3, 5, DType::kBF16);
  ASSERT_EQ(r.files.size(), 3u);
  for (int i = 1; i <= 3; ++i)
    EXPECT_TRUE(fs::exists(three + "/model-0000" + std::to_string(i) + "-of-00003.safetensors"));
  EXPECT_FALSE(fs::exists(three + "/model.safetensors"));
  const json index = json::parse(slurp(three + "/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), r.data_bytes);
  EXPECT_EQ(index["weight_map"].size(), size_t(r.n_tensors));

  const WeightStore a = WeightStore::open(one), b = WeightStore::open(three);
  ASSERT_EQ(a.keys(), b.keys());
  std::set<std::string> files;
  for (const std::string& k : a.keys()) {
    const TensorView &va = a.get(k), &vb = b.get(k);
    ASSERT_EQ(va.shape, vb.shape);
    // Values depend on (seed, tensor, element) only, not on the file layout.
    ASSERT_EQ(std::memcmp(va.data, vb.data, va.nbytes()), 0) << k;
    files.insert(b.file_of(k));
  }
  EXPECT_EQ(files.size(), 3u);
  check_weights(b, load_model_config(three));
  // Re-synthesising a folder as a single file removes the stale shards and index.
  synth("7b-chat", three, 1, 5, DType::kBF16);
  EXPECT_FALSE(fs::exists(three + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(three + "/model-00001-of-00003.safetensors"));
  check_weights(WeightStore::open(three), load_model_config(three));
}

TEST(Synth, OneShardPerTensorLeavesNoShardEmpty) {
  const std::string dir = test::temp_dir("synth");
  SynthOptions o;
  o.like = "1.3b-chat";
  o.out_dir = dir;
  o.tiny = true;
  o.shards = int(model_keys(synth("1.3b-chat", dir).config).size());
  const SynthResult r = synth_model(o);
  EXPECT_EQ(r.files.size(), size_t(o.shards));
  for (const auto& f : r.files) EXPECT_EQ(SafeTensorsFile(f).tensors().size(), 1u);
  o.shards += 1;
  EXPECT_THROW(synth_model(o), RequestError);
}

TEST(Synth, SeedDeterminesBytes) {
  const std::string a = test::temp_dir("synth"), b = test::temp_dir("synth"),
                    c = test::temp_dir("synth");
  synth("1.3b-chat", a, 1, 42);
  synth("1.3b-chat", b, 1, 42);
  synth("1.3b-chat", c, 1, 43);
  EXPECT_EQ(slurp(a + "/model.safetensors"), slurp(b + "/model.safetensors"));
  EXPECT_NE(slurp(a + "/model.safetensors"), slurp(c + "/model.safetensors"));
}

TEST(Synth, RandomValuesHaveTheRequestedDistribution) {
  std::vector<float> v(200000);
  fill_random(1, 7, 0, int64_t(v.size()), Init{Init::kNormal, 0.5f, 2.0f}, v.data());
  double sum = 0, ss = 0;
  for (float x : v) sum += x;
  const double mean = sum / double(v.size());
  for (float x : v) ss += (x - mean) * (x - mean);
  EXPECT_NEAR(mean, 0.5, 0.02);
  EXPECT_NEAR(std::sqrt(ss / double(v.size())), 2.0, 0.02);
  fill_random(1, 8, 0, int64_t(v.size()), Init{Init::kUniform, 0.3f, 0.8f}, v.data());
  for (float x : v) ASSERT_TRUE(x >= 0.3f && x <= 0.8f);
  // A sub-range reproduces the same elements (chunking and threads do not matter).
  std::vector<float> w(10);
  fill_random(1, 8, 1000, 10, Init{Init::kUniform, 0.3f, 0.8f}, w.data());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(w[size_t(i)], v[size_t(1000 + i)]);
  EXPECT_EQ(init_for("x.hd_alpha_downsamples", {1}).kind, Init::kUniform);
  EXPECT_FLOAT_EQ(init_for("a.b.norm1.weight", {64}).a, 1.0f);
  EXPECT_FLOAT_EQ(init_for("a.qkv.weight", {192, 64}).b, 0.125f);
  EXPECT_FLOAT_EQ(init_for("patch_embed.proj.weight", {64, 3, 16, 16}).b,
                  float(1 / std::sqrt(768.0)));
}

TEST(Synth, BuiltInTokenizerHasTheDeepSeekLayout) {
  const TokenizerFiles t = build_small_tokenizer();
  const json j = json::parse(t.tokenizer_json);
  const json& vocab = j["model"]["vocab"];
  const json& merges = j["model"]["merges"];
  EXPECT_GE(merges.size(), 300u);
  EXPECT_EQ(vocab.size(), 256 + merges.size());
  EXPECT_EQ(vocab["!"], 0);                // GPT-2 byte order: printable bytes first
  EXPECT_EQ(vocab["\xc4\xa0"], 188 + 32);  // "Ġ" (space, byte 32) after the 188 printable bytes
  for (const auto& m : merges) {           // every merge joins two known tokens into a known token
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    ASSERT_NE(sp, std::string::npos);
    ASSERT_TRUE(vocab.contains(s.substr(0, sp)) && vocab.contains(s.substr(sp + 1))) << s;
    ASSERT_TRUE(vocab.contains(s.substr(0, sp) + s.substr(sp + 1))) << s;
  }
  const json& added = j["added_tokens"];
  ASSERT_EQ(added.size(), 3u);
  EXPECT_EQ(added[0]["content"], "<\uff5cbegin\u2581of\u2581sentence\uff5c>");
  EXPECT_EQ(added[1]["content"], "<\uff5cend\u2581of\u2581sentence\uff5c>");
  EXPECT_EQ(added[2]["content"], "<image_placeholder>");
  EXPECT_EQ(added[2]["id"].get<int>(), t.n_ids - 1);
  EXPECT_TRUE(added[2]["special"].get<bool>());
  const json cfg = json::parse(t.tokenizer_config_json);
  EXPECT_EQ(cfg["tokenizer_class"], "LlamaTokenizerFast");
  EXPECT_TRUE(cfg["add_bos_token"].get<bool>());
  EXPECT_EQ(tokenizer_id_count(t.tokenizer_json, "t"), t.n_ids);

  const std::string real = test::shared_path("tokenizers/deepseek_vl/tokenizer.json");
  if (real.empty()) GTEST_SKIP() << "../shared/tokenizers not found";
  const json r = json::parse(slurp(real));
  for (const char* k : {"normalizer", "pre_tokenizer", "post_processor", "decoder"})
    EXPECT_EQ(j[k], r[k]) << k;
  for (const char* k : {"type", "byte_fallback", "fuse_unk", "unk_token"})
    EXPECT_EQ(j["model"][k], r["model"][k]) << k;
}

TEST(Synth, RealTokenizerSizesTinyVocabulary) {
  const std::string tok = test::shared_path("tokenizers/deepseek_vl");
  if (tok.empty()) GTEST_SKIP() << "../shared/tokenizers not found";
  SynthOptions o;
  o.like = "1.3b-chat";
  o.out_dir = test::temp_dir("synth");
  o.tiny = true;
  o.tokenizer_dir = tok;
  const SynthResult r = synth_model(o);
  EXPECT_EQ(r.tokenizer_ids, 100016);
  EXPECT_EQ(load_model_config(o.out_dir).llm.vocab_size, 100016);
  EXPECT_EQ(slurp(o.out_dir + "/tokenizer.json"), slurp(tok + "/tokenizer.json"));
  EXPECT_TRUE(fs::exists(o.out_dir + "/tokenizer_config.json"));
}

TEST(Synth, EmbeddedReleasedConfigsAreByteExact) {
  const std::string base = test::shared_path("spec/configs");
  if (base.empty()) GTEST_SKIP() << "../shared/spec not found";
  for (const char* like : {"1.3b-chat", "7b-chat"})
    for (const char* f : {"config.json", "preprocessor_config.json", "processor_config.json"}) {
      const std::string path = base + "/deepseek-vl-" + like + "/" + f;
      EXPECT_EQ(released_config_file(like, f), slurp(path)) << path;
    }
  // Full size writes the released config.json unchanged, whatever the dtype.
  EXPECT_EQ(synth_config_json("7b-chat", false, 500, DType::kBF16),
            slurp(base + "/deepseek-vl-7b-chat/config.json"));
  const ModelConfig full =
      parse_model_config(synth_config_json("7b-chat", false, 0, DType::kF16), "config.json");
  EXPECT_EQ(count_params(model_keys(full)).total(), 7343990017);
}

TEST(Synth, BadOptionsAreRequestErrors) {
  SynthOptions o;
  o.out_dir = test::temp_dir("synth");
  o.like = "13b";
  EXPECT_THROW(synth_model(o), RequestError);
  o.like = "1.3b-chat";
  o.shards = 0;
  EXPECT_THROW(synth_model(o), RequestError);
  o.shards = 1;
  o.tokenizer_dir = o.out_dir + "/missing";
  EXPECT_THROW(synth_model(o), IoError);
  std::string out;
  EXPECT_EQ(test::run_command(test::dsvl_binary() + " synth --like 2b --out " + o.out_dir, &out),
            2);
  EXPECT_NE(out.find("--like must be 1.3b-chat or 7b-chat"), std::string::npos) << out;
  EXPECT_EQ(test::run_command(
                test::dsvl_binary() + " synth --like 7b-chat --dtype f8 --out " + o.out_dir, &out),
            2);
}

TEST(Synth, CommandWritesTinyFolderThatInfoReads) {
  const std::string dir = test::temp_dir("synth");
  std::string out;
  ASSERT_EQ(test::run_command(test::dsvl_binary() +
                                  " synth --like 7b-chat --tiny --shards 2 --seed 3 --dtype f32 "
                                  "--out " +
                                  dir,
                              &out),
            0)
      << out;
  EXPECT_NE(out.find("random weights"), std::string::npos);
  out.clear();
  ASSERT_EQ(test::run_command(test::dsvl_binary() + " info " + dir, &out), 0) << out;
  EXPECT_NE(out.find("F32: "), std::string::npos) << out;
  EXPECT_NE(out.find("in 2 files"), std::string::npos) << out;
}

// Full size (1.3B in bf16 is 3.95 GB): only with DSVL_SLOW_TESTS=1.
TEST(Synth, FullSize13bSlow) {
  const char* slow = std::getenv("DSVL_SLOW_TESTS");
  if (!slow || std::string(slow) != "1") GTEST_SKIP() << "set DSVL_SLOW_TESTS=1 (writes 4 GB)";
  const std::string dir = test::temp_dir("synth-full");
  SynthOptions o;
  o.like = "1.3b-chat";
  o.out_dir = dir;
  o.dtype = DType::kBF16;
  const SynthResult r = synth_model(o);
  EXPECT_EQ(r.n_params, 1975235584);
  const ModelInfo info = inspect_model(dir);
  EXPECT_EQ(info.params_in_files, 1975235584);
  EXPECT_EQ(info.config.llm.vocab_size, 102400);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dsvl::io
