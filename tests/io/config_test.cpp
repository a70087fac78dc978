// config.json & co: the real configs of both sizes, LlamaConfig defaults, arch overrides, and
// one test per malformed input asserting the message.
#include "io/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "core/error.h"
#include "io/model_keys.h"

namespace dsvl::io {
namespace {
using json = nlohmann::json;

// A minimal valid SigLIP-only config (1.3B layout, real sizes) to break one field at a time.
json base_config() {
  return json::parse(R"({
    "aligner_config": {"cls": "MlpProjector", "params": {"depth": 2, "input_dim": 1024,
                       "n_embed": 2048, "projector_type": "mlp_gelu"}},
    "language_config": {"hidden_size": 2048, "intermediate_size": 5632, "num_attention_heads": 16,
                        "num_hidden_layers": 24, "num_key_value_heads": 16, "vocab_size": 102400},
    "vision_config": {"cls": "CLIPVisionTower", "params": {"image_size": 384,
                      "model_name": "siglip_large_patch16_384", "select_layer": -1}}})");
}

std::string config_error(const json& j) {
  try {
    parse_model_config(j.dump(), "config.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool has_substr(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Config, Real7bTakesLlamaDefaults) {
  const std::string dir = test::shared_path("spec/configs/deepseek-vl-7b-chat");
  if (dir.empty()) GTEST_SKIP() << "../shared/spec not found";
  const ModelConfig m = load_model_config(dir);
  EXPECT_TRUE(m.is_hybrid());
  EXPECT_EQ(m.llm.hidden_size, 4096);
  EXPECT_EQ(m.llm.intermediate_size, 11008);
  EXPECT_EQ(m.llm.num_attention_heads, 32);
  EXPECT_EQ(m.llm.num_key_value_heads, 32);
  EXPECT_EQ(m.llm.num_hidden_layers, 30);
  EXPECT_EQ(m.llm.vocab_size, 102400);
  EXPECT_DOUBLE_EQ(m.llm.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(m.llm.rope_theta, 10000.0);
  EXPECT_EQ(m.vision.sam->width, 768);
  EXPECT_EQ(m.vision.sam->global_attn_indexes, (std::vector<int>{2, 5, 8, 11}));
  EXPECT_EQ(m.vision.siglip.layers, 24);
  EXPECT_EQ(m.aligner.kind, AlignerKind::kHybridSplit);
  EXPECT_EQ(m.image_processor.image_size, 1024);
  EXPECT_FLOAT_EQ(m.image_processor.image_mean[0], 0.48145466f);
  EXPECT_EQ(m.chat.num_image_tokens, 576);
}

TEST(Config, Real13bIsSiglipOnly) {
  const std::string dir = test::shared_path("spec/configs/deepseek-vl-1.3b-chat");
  if (dir.empty()) GTEST_SKIP() << "../shared/spec not found";
  const ModelConfig m = load_model_config(dir);
  EXPECT_FALSE(m.is_hybrid());
  EXPECT_FALSE(m.vision.sam.has_value());
  EXPECT_EQ(m.llm.hidden_size, 2048);
  EXPECT_EQ(m.llm.head_dim(), 128);
  EXPECT_EQ(m.aligner.kind, AlignerKind::kMlpGelu);
  EXPECT_EQ(m.image_processor.image_size, 384);
}

TEST(Config, ArchObjectOverridesTables) {
  const std::string dir = test::shared_path("conformance/models/tiny-hybrid-b");
  if (dir.empty()) GTEST_SKIP() << "../shared/conformance not found";
  const ModelConfig m = load_model_config(dir);
  EXPECT_EQ(m.vision.sam->width, 48);
  EXPECT_EQ(m.vision.sam->layers, 6);
  EXPECT_EQ(m.vision.sam->global_attn_indexes, (std::vector<int>{2, 5}));
  EXPECT_EQ(m.vision.sam->downsample_channels, (std::vector<int>{40, 64}));
  EXPECT_EQ(m.vision.sam->window_size, 14);  // not in arch: table value
  EXPECT_EQ(m.vision.siglip.width, 64);
  EXPECT_EQ(m.vision.siglip.layers, 2);
  EXPECT_EQ(m.llm.num_key_value_heads, 6);  // omitted: equals num_attention_heads
}

TEST(ConfigMalformed, MissingKeys) {
  for (const char* key : {"vision_config", "aligner_config", "language_config"}) {
    json j = base_config();
    j.erase(key);
    EXPECT_EQ(config_error(j), std::string("config.json: ") + key + ": missing");
  }
  json j = base_config();
  j["vision_config"]["params"].erase("model_name");
  EXPECT_EQ(config_error(j), "config.json: vision_config.params.model_name: missing");
  j = base_config();
  j["aligner_config"]["params"].erase("input_dim");
  EXPECT_EQ(config_error(j), "config.json: aligner_config.params.input_dim: missing");
  j = base_config();
  j["vision_config"].erase("cls");
  EXPECT_EQ(config_error(j), "config.json: vision_config.cls: missing");
}

TEST(ConfigMalformed, MalformedValues) {
  json j = base_config();
  j["language_config"]["hidden_size"] = "2048";
  EXPECT_EQ(config_error(j),
            "config.json: language_config.hidden_size: must be an integer, got \"2048\"");
  j = base_config();
  j["language_config"]["num_hidden_layers"] = -3;
  EXPECT_PRED2(has_substr, config_error(j),
               "language_config.num_hidden_layers: value -3 out of range");
  j = base_config();
  j["language_config"]["rms_norm_eps"] = "tiny";
  EXPECT_PRED2(has_substr, config_error(j), "language_config.rms_norm_eps: must be a number");
  j = base_config();
  j["vision_config"]["params"]["pixel_mean"] = {0.5, 0.5};
  EXPECT_PRED2(has_substr, config_error(j),
               "vision_config.params.pixel_mean: must be a list of 3 numbers");
  j = base_config();
  j["vision_config"]["params"] = 7;
  EXPECT_EQ(config_error(j), "config.json: vision_config.params: must be an object");
  j = base_config();
  j["language_config"]["hidden_size"] = 2056;  // not divisible by 16 heads
  EXPECT_PRED2(has_substr, config_error(j), "hidden_size 2056 is not divisible by 16");
  j = base_config();
  j["language_config"]["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_PRED2(has_substr, config_error(j),
               "language_config.rope_scaling: RoPE scaling is not supported");
  EXPECT_PRED2(has_substr, config_error(json::parse("[]")), "config.json: not a JSON object");
  try {
    parse_model_config("{\"vision_config\": ", "config.json");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_PRED2(has_substr, e.what(), "config.json: not valid JSON");
  }
}

TEST(ConfigMalformed, UnknownVisionAndAlignerTypes) {
  json j = base_config();
  j["vision_config"]["cls"] = "EvaVisionTower";
  EXPECT_EQ(config_error(j),
            "config.json: vision_config.cls: unknown vision tower class \"EvaVisionTower\" "
            "(supported: CLIPVisionTower, HybridVisionTower)");
  j = base_config();
  j["vision_config"]["params"]["model_name"] = "siglip_so400m_patch14_384";
  EXPECT_PRED2(has_substr, config_error(j), "unknown vision tower \"siglip_so400m_patch14_384\"");
  j = base_config();
  j["aligner_config"]["params"]["projector_type"] = "downsample_mlp_gelu";
  EXPECT_PRED2(has_substr, config_error(j),
               "aligner_config.params.projector_type: unsupported projector "
               "\"downsample_mlp_gelu\"");
  j = base_config();
  j["aligner_config"]["cls"] = "QFormer";
  EXPECT_PRED2(has_substr, config_error(j),
               "aligner_config.cls: unknown aligner class \"QFormer\"");
}

TEST(ConfigMalformed, Contradictions) {
  json j = base_config();
  j["aligner_config"]["params"]["input_dim"] = 768;
  EXPECT_PRED2(has_substr, config_error(j), "input_dim: 768 differs from the vision width 1024");
  j = base_config();
  j["aligner_config"]["params"]["n_embed"] = 4096;
  EXPECT_PRED2(has_substr, config_error(j),
               "aligner_config.params.n_embed: 4096 differs from the LLM hidden_size 2048");
  j = base_config();
  j["aligner_config"]["params"]["projector_type"] = "low_high_hybrid_split_mlp_gelu";
  EXPECT_PRED2(has_substr, config_error(j), "the hybrid split aligner needs the HybridVisionTower");
  j = base_config();
  j["vision_config"]["params"]["arch"] = {{"width", 100}, {"heads", 16}};
  EXPECT_PRED2(has_substr, config_error(j), "width 100 is not divisible by heads 16");
}

// preprocessor_config.json disagreeing with the tower.
TEST(ConfigMalformed, PreprocessorContradictsTower) {
  const std::string src = test::shared_path("spec/configs/deepseek-vl-1.3b-chat");
  if (src.empty()) GTEST_SKIP() << "../shared/spec not found";
  const std::string dir = test::temp_dir("cfg");
  for (const char* f : {"config.json", "processor_config.json"})
    std::filesystem::copy_file(src + "/" + f, dir + "/" + f);
  std::ofstream(dir + "/preprocessor_config.json") << R"({"image_size": 1024})";
  try {
    load_model_config(dir);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_PRED2(has_substr, e.what(),
                 "preprocessor_config.json: image_size: 1024 disagrees with the "
                 "vision tower input 384");
  }
  std::ofstream(dir + "/preprocessor_config.json") << "{oops";
  EXPECT_THROW(load_model_config(dir), ConfigError);
  EXPECT_THROW(load_model_config(dir + "/nope"), ConfigError);
}

}  // namespace
}  // namespace dsvl::io
