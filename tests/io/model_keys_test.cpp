#include "io/model_keys.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/shared.h"
#include "core/error.h"

namespace dsvl::io {
namespace {

// Reads ../shared/spec/keys-*.txt: "# comment" lines, then "name<TAB>[d0, d1, ...]".
std::vector<std::pair<std::string, std::string>> read_key_list(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

void expect_matches_spec(const std::string& size, int64_t want_params, size_t want_tensors) {
  const std::string cfg_dir = test::shared_path("spec/configs/deepseek-vl-" + size + "-chat");
  const std::string list = test::shared_path("spec/keys-deepseek-vl-" + size + ".txt");
  if (cfg_dir.empty() || list.empty()) GTEST_SKIP() << "../shared/spec not found";
  const ModelConfig cfg = load_model_config(cfg_dir);
  const auto keys = model_keys(cfg);
  const auto spec = read_key_list(list);
  ASSERT_EQ(keys.size(), spec.size());
  ASSERT_EQ(keys.size(), want_tensors);
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(keys[i].name, spec[i].first) << "position " << i;
    ASSERT_EQ(shape_str(keys[i].shape), spec[i].second) << keys[i].name;
  }
  const ParamCounts pc = count_params(keys);
  EXPECT_EQ(pc.total(), want_params);
  // The unused tensors (attn_pool, high/low_layer_norm) are 12.6 M parameters in 7B.
  EXPECT_GT(pc.unused, 0);
  EXPECT_EQ(count_params(model_keys(cfg, false)).total(), pc.used);
}

TEST(ModelKeys, Matches13bKeyListExactly) { expect_matches_spec("1.3b", 1975235584, 529); }

TEST(ModelKeys, Matches7bKeyListExactly) { expect_matches_spec("7b", 7343990017, 775); }

TEST(ModelKeys, UnusedFlagsAndComponents) {
  const std::string cfg_dir = test::shared_path("spec/configs/deepseek-vl-7b-chat");
  if (cfg_dir.empty()) GTEST_SKIP() << "../shared/spec not found";
  const auto keys = model_keys(load_model_config(cfg_dir));
  std::set<std::string> comps;
  int unused = 0;
  for (const auto& k : keys) {
    comps.insert(k.component);
    const bool should_be_unused = k.name.find("attn_pool.") != std::string::npos ||
                                  k.name.find("_layer_norm.") != std::string::npos;
    EXPECT_EQ(k.used, !should_be_unused) << k.name;
    unused += k.used ? 0 : 1;
    std::string want = "?";
    if (k.name.rfind("aligner.", 0) == 0) want = "aligner";
    if (k.name.rfind("language_model.", 0) == 0) want = "llm";
    if (k.name.rfind(kSamPrefix, 0) == 0 || k.name.rfind("vision_model.high", 0) == 0)
      want = "vision.high";
    if (k.name.rfind(kSiglipLowPrefix, 0) == 0 || k.name.rfind("vision_model.low", 0) == 0)
      want = "vision.low";
    EXPECT_EQ(k.component, want) << k.name;
  }
  EXPECT_EQ(unused, 13 + 4);  // attn_pool: latent + 6 weight/bias pairs; two LayerNorms
  EXPECT_EQ(comps, (std::set<std::string>{"vision.high", "vision.low", "aligner", "llm"}));
}

// The three tiny conformance models hold exactly the keys their configs imply.
TEST(ModelKeys, MatchesConformanceModels) {
  const std::string models = test::shared_path("conformance/models");
  if (models.empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const char* name : {"tiny-hybrid-a", "tiny-hybrid-b", "tiny-siglip-c"}) {
    SCOPED_TRACE(name);
    const std::string dir = models + "/" + name;
    const ModelConfig cfg = load_model_config(dir);
    const WeightStore ws = WeightStore::open(dir);
    const auto keys = model_keys(cfg);
    std::set<std::string> want;
    for (const auto& k : keys) {
      want.insert(k.name);
      ASSERT_TRUE(ws.has(k.name)) << k.name;
      EXPECT_EQ(shape_str(ws.get(k.name).shape), shape_str(k.shape)) << k.name;
    }
    const auto have = ws.keys();
    EXPECT_EQ(std::set<std::string>(have.begin(), have.end()), want);
    const BindReport r = check_weights(ws, cfg);
    EXPECT_EQ(r.n_used + r.n_unused_present, int(keys.size()));
    EXPECT_TRUE(r.unknown.empty());
  }
}

TEST(ModelKeys, AlignerDepthFollowsOfficialSequentialIndexes) {
  ModelConfig cfg;  // defaults: SigLIP-only, mlp_gelu
  cfg.aligner.depth = 3;
  std::vector<std::string> names;
  for (const auto& k : model_keys(cfg))
    if (k.component == "aligner") names.push_back(k.name);
  EXPECT_EQ(names, (std::vector<std::string>{"aligner.layers.0.weight", "aligner.layers.0.bias",
                                             "aligner.layers.2.weight", "aligner.layers.2.bias",
                                             "aligner.layers.4.weight", "aligner.layers.4.bias"}));
}

}  // namespace
}  // namespace dsvl::io
