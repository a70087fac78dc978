// Weight binding: the conformance models load and every tensor binds; a missing, mis-shaped or
// non-float tensor is an error naming it, the file, and the expected and actual shape.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "core/error.h"
#include "io/config.h"
#include "io/model_keys.h"
#include "io/safetensors.h"

namespace dsvl::io {
namespace {
namespace fs = std::filesystem;

bool has_substr(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ConformanceModels, LoadAndBindEveryTensor) {
  const std::string models = test::shared_path("conformance/models");
  if (models.empty()) GTEST_SKIP() << "../shared/conformance not found";
  const std::map<std::string, DType> dtypes = {{"tiny-hybrid-a", DType::kF32},
                                               {"tiny-hybrid-b", DType::kBF16},
                                               {"tiny-siglip-c", DType::kF16}};
  for (const auto& [name, dtype] : dtypes) {
    SCOPED_TRACE(name);
    const ModelConfig cfg = load_model_config(models + "/" + name);
    const WeightStore ws = WeightStore::open(models + "/" + name);
    const BindReport r = check_weights(ws, cfg);
    const auto used = model_keys(cfg, /*include_unused=*/false);
    EXPECT_EQ(r.n_used, int(used.size()));
    EXPECT_EQ(r.params_by_dtype.size(), 1u);
    EXPECT_EQ(r.params_by_dtype.begin()->first, dtype);
    for (const KeySpec& k : used) {
      const Tensor t = to_float(ws.require(k.name, k.shape));
      for (float v : t.data) ASSERT_TRUE(std::isfinite(v)) << k.name;
    }
  }
}

// A small SigLIP-only config (1.3B layout) built in code, so these tests need no ../shared.
ModelConfig small_config() {
  ModelConfig c;
  c.vision.siglip.width = 32;
  c.vision.siglip.heads = 2;
  c.vision.siglip.layers = 1;
  c.aligner.input_dim = 32;
  c.aligner.n_embed = 64;
  c.llm.hidden_size = 64;
  c.llm.num_attention_heads = 4;
  c.llm.num_key_value_heads = 4;
  c.llm.num_hidden_layers = 1;
  c.llm.intermediate_size = 96;
  c.llm.vocab_size = 50;
  return c;
}

// Writes zeros for the keys of `cfg`; `edit` may change each spec (or drop it by clearing the
// name) before writing.
std::string write_checkpoint(const ModelConfig& cfg,
                             const std::function<void(SafeTensorsWriter::Spec&)>& edit) {
  const std::string dir = test::temp_dir("bind");
  std::vector<SafeTensorsWriter::Spec> specs;
  for (const KeySpec& k : model_keys(cfg)) {
    SafeTensorsWriter::Spec s{k.name, DType::kF16, k.shape};
    edit(s);
    if (!s.name.empty()) specs.push_back(s);
  }
  SafeTensorsWriter w(dir + "/model.safetensors", specs);
  for (const auto& s : specs) {
    std::vector<uint8_t> zeros(size_t(shape_numel(s.shape)) * dtype_size(s.dtype));
    w.write(zeros.data(), zeros.size());
  }
  w.finish();
  return dir;
}

TEST(BindCheck, AcceptsCompleteMixedDtypeCheckpointWithoutUnusedTensors) {
  const ModelConfig cfg = small_config();
  int i = 0;
  const std::string dir = write_checkpoint(cfg, [&](SafeTensorsWriter::Spec& s) {
    const DType mix[] = {DType::kF32, DType::kF16, DType::kBF16};
    s.dtype = mix[i++ % 3];
    if (s.name.find("attn_pool") != std::string::npos) s.name.clear();  // not demanded
  });
  const BindReport r = check_weights(WeightStore::open(dir), cfg);
  EXPECT_EQ(r.n_used, int(model_keys(cfg, false).size()));
  EXPECT_EQ(r.n_unused_present, 0);
  EXPECT_EQ(r.params_by_dtype.size(), 3u);
}

TEST(BindCheck, IgnoresUnknownExtraTensors) {
  const ModelConfig cfg = small_config();
  const std::string dir = write_checkpoint(cfg, [](SafeTensorsWriter::Spec& s) {
    if (s.name == "language_model.model.norm.weight") s.name = "language_model.model.extra";
  });
  // The renamed tensor is now missing; the extra one alone would have been ignored.
  try {
    check_weights(WeightStore::open(dir), cfg);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_PRED2(has_substr, e.what(),
                 "missing tensor \"language_model.model.norm.weight\" (expected shape [64])");
  }
}

TEST(BindCheck, WrongShapeNamesFileTensorExpectedAndActual) {
  const ModelConfig cfg = small_config();
  const std::string dir = write_checkpoint(cfg, [](SafeTensorsWriter::Spec& s) {
    if (s.name == "vision_model.vision_tower.blocks.0.attn.qkv.weight") s.shape = {96, 48};
  });
  try {
    check_weights(WeightStore::open(dir), cfg);
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "model.safetensors: vision_model.vision_tower.blocks.0.attn.qkv.weight: shape "
                 "[96, 48], expected [96, 32] (as config.json implies)");
  }
}

TEST(BindCheck, NonFloatTensorIsRejected) {
  const ModelConfig cfg = small_config();
  const std::string dir = write_checkpoint(cfg, [](SafeTensorsWriter::Spec& s) {
    if (s.name == "aligner.layers.0.bias") s.dtype = DType::kI32;
  });
  try {
    check_weights(WeightStore::open(dir), cfg);
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "model.safetensors: aligner.layers.0.bias: dtype I32, expected F32, F16 or BF16");
  }
}

// A config.json that contradicts the weights (here: vocabulary size) is reported through the
// first tensor whose shape it changes.
TEST(BindCheck, ConfigContradictingWeights) {
  const std::string src = test::shared_path("conformance/models/tiny-siglip-c");
  if (src.empty()) GTEST_SKIP() << "../shared/conformance not found";
  const std::string dir = test::temp_dir("bind");
  for (const char* f : {"model.safetensors", "preprocessor_config.json", "processor_config.json"})
    fs::create_symlink(src + "/" + f, dir + "/" + f);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(src + "/config.json"));
  j["language_config"]["vocab_size"] = 360;
  std::ofstream(dir + "/config.json") << j.dump(2);
  try {
    check_weights(WeightStore::open(dir), load_model_config(dir));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(),
                 "model.safetensors: language_model.model.embed_tokens.weight: shape [352, 80], "
                 "expected [360, 80] (as config.json implies)");
  }
}

}  // namespace
}  // namespace dsvl::io
