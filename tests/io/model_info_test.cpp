// dsvl info: the numbers for the full-size configs equal the spec's key lists; the command
// works on the conformance models and fails with a message naming the tensor on broken ones.
#include "io/model_info.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"

namespace dsvl::io {
namespace {
namespace fs = std::filesystem;

bool has_substr(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The line of `dsvl info` output whose label is `label` ("  total   ...").
std::string line_of(const std::string& out, const std::string& label) {
  const size_t p = out.find("\n  " + label + " ");
  if (p == std::string::npos) return "";
  return out.substr(p + 1, out.find('\n', p + 1) - p - 1);
}

// Sums the parameters of ../shared/spec/keys-*.txt per component, by key prefix.
std::map<std::string, int64_t> spec_params(const std::string& path) {
  std::map<std::string, int64_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find('\t'));
    int64_t n = 1;
    for (const auto& d : nlohmann::json::parse(line.substr(line.find('\t') + 1)))
      n *= d.get<int64_t>();
    const bool unused = has_substr(name, "attn_pool.") || has_substr(name, "_layer_norm.");
    std::string comp = name.rfind("aligner.", 0) == 0          ? "aligner"
                       : name.rfind("language_model.", 0) == 0 ? "llm"
                       : has_substr(name, "vision_tower_high") ? "vision.high"
                       : has_substr(name, "vision_tower_low")  ? "vision.low"
                                                               : "vision";
    out[unused ? "unused" : comp] += n;
    out["total"] += n;
  }
  return out;
}

void expect_info_matches_spec(const std::string& size, int64_t total) {
  const std::string cfg = test::shared_path("spec/configs/deepseek-vl-" + size + "-chat");
  const std::string list = test::shared_path("spec/keys-deepseek-vl-" + size + ".txt");
  if (cfg.empty() || list.empty()) GTEST_SKIP() << "../shared/spec not found";
  const auto want = spec_params(list);
  ASSERT_EQ(want.at("total"), total);
  const ModelInfo info = model_info_from_config(load_model_config(cfg));
  EXPECT_EQ(info.params.total(), total);
  EXPECT_EQ(info.params.unused, want.at("unused"));
  for (const auto& [comp, n] : info.params.used_by_component) EXPECT_EQ(n, want.at(comp)) << comp;

  // The command prints the same total.
  std::string out;
  ASSERT_EQ(test::run_command(test::dsvl_binary() + " info --no-weights " + cfg, &out), 0) << out;
  EXPECT_PRED2(has_substr, line_of(out, "total"), with_commas(total));
  for (const auto& [comp, n] : info.params.used_by_component)
    EXPECT_PRED2(has_substr, out, with_commas(n));
}

TEST(ModelInfo, FullSize13bEqualsSpecKeyList) { expect_info_matches_spec("1.3b", 1975235584); }
TEST(ModelInfo, FullSize7bEqualsSpecKeyList) { expect_info_matches_spec("7b", 7343990017); }

TEST(ModelInfo, KvAndMemoryEstimates) {
  const std::string cfg = test::shared_path("spec/configs/deepseek-vl-7b-chat");
  if (cfg.empty()) GTEST_SKIP() << "../shared/spec not found";
  const ModelInfo info = model_info_from_config(load_model_config(cfg));
  // 2 (K, V) x 30 layers x 32 KV heads x 128 dims.
  EXPECT_EQ(info.kv_bytes_per_token(2), 2u * 30 * 32 * 128 * 2);
  EXPECT_EQ(info.kv_bytes_per_token(4), 2u * 30 * 32 * 128 * 4);
  EXPECT_EQ(info.weight_bytes(2), uint64_t(info.params.used) * 2);
  EXPECT_EQ(with_commas(7343990017), "7,343,990,017");
  EXPECT_EQ(human_bytes(3ull << 30), "3.00 GiB");
}

TEST(ModelInfo, CommandOnConformanceModels) {
  const std::string models = test::shared_path("conformance/models");
  if (models.empty()) GTEST_SKIP() << "../shared/conformance not found";
  const std::map<std::string, std::string> want = {{"tiny-hybrid-a", "F32: 159 tensors"},
                                                   {"tiny-hybrid-b", "BF16: 175 tensors"},
                                                   {"tiny-siglip-c", "F16: 79 tensors"}};
  for (const auto& [name, dtypes] : want) {
    SCOPED_TRACE(name);
    const std::string dir = models + "/" + name;
    const ModelInfo info = inspect_model(dir);
    int64_t in_file = 0;
    const WeightStore ws = WeightStore::open(dir);
    for (const auto& k : ws.keys()) in_file += ws.get(k).numel();
    EXPECT_EQ(info.params_in_files, in_file);
    EXPECT_EQ(info.params.total(), in_file);
    EXPECT_EQ(info.bytes_on_disk, fs::file_size(dir + "/model.safetensors"));

    std::string out;
    ASSERT_EQ(test::run_command(test::dsvl_binary() + " info " + dir, &out), 0) << out;
    EXPECT_PRED2(has_substr, line_of(out, "total"), with_commas(in_file));
    EXPECT_PRED2(has_substr, out, dtypes);
    EXPECT_PRED2(has_substr, out,
                 name == "tiny-siglip-c" ? "1.3B-style SigLIP-only" : "7B-style hybrid");
    std::string js;
    ASSERT_EQ(test::run_command(test::dsvl_binary() + " info --json " + dir + " 2>/dev/null", &js),
              0);
    EXPECT_EQ(nlohmann::json::parse(js)["params"]["total"].get<int64_t>(), in_file);
  }
}

TEST(ModelInfo, CommandFailsOnBrokenFolderNamingTensorAndFile) {
  const std::string src = test::shared_path("conformance/models/tiny-siglip-c");
  if (src.empty()) GTEST_SKIP() << "../shared/conformance not found";
  const std::string dir = test::temp_dir("info");
  for (const char* f : {"config.json", "preprocessor_config.json", "processor_config.json"})
    fs::copy_file(src + "/" + f, dir + "/" + f);
  // Drop one tensor from the checkpoint.
  const WeightStore ws = WeightStore::open(src);
  std::vector<SafeTensorsWriter::Spec> specs;
  for (const auto& k : ws.keys())
    if (k != "language_model.model.norm.weight")
      specs.push_back({k, ws.get(k).dtype, ws.get(k).shape});
  SafeTensorsWriter w(dir + "/model.safetensors", specs);
  for (const auto& s : specs) w.write(ws.get(s.name).data, ws.get(s.name).nbytes());
  w.finish();
  std::string out;
  EXPECT_NE(test::run_command(test::dsvl_binary() + " info " + dir, &out), 0);
  EXPECT_PRED2(has_substr, out, "missing tensor \"language_model.model.norm.weight\"");

  // A truncated file: the error names the file.
  fs::resize_file(dir + "/model.safetensors", 1000);
  out.clear();
  EXPECT_NE(test::run_command(test::dsvl_binary() + " info " + dir, &out), 0);
  EXPECT_PRED2(has_substr, out, "model.safetensors: ");
  EXPECT_PRED2(has_substr, out, "past the end");
  out.clear();
  EXPECT_NE(test::run_command(test::dsvl_binary() + " info " + dir + "/nope", &out), 0);
  EXPECT_PRED2(has_substr, out, "model folder not found");
}

}  // namespace
}  // namespace dsvl::io
