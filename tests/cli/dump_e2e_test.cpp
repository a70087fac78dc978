// End to end: the real `dsvl dump` binary on every conformance case — the case's model,
// image files and prompt_ids_before_expansion — compared with every golden tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "io/safetensors.h"

namespace dsvl {
namespace {
namespace fs = std::filesystem;

struct Stat {
  double max_abs = 0, ref_max = 0;
  int64_t first_bad = -1;
};

Stat compare(const TensorView& got, const TensorView& want, double rel_tol) {
  Stat s;
  const int64_t n = want.numel();
  for (int64_t i = 0; i < n; ++i)
    s.ref_max = std::max(s.ref_max, std::fabs(double(load_float(want, i))));
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(load_float(got, i)) - double(load_float(want, i)));
    if (d > s.max_abs) s.max_abs = d;
    if (s.first_bad < 0 && !(d <= rel_tol * s.ref_max)) s.first_bad = i;
  }
  return s;
}

void check_case(const std::string& kit, const std::string& name, bool debug) {
  std::ifstream in(kit + "/cases/" + name + ".json");
  const auto j = nlohmann::json::parse(in);
  std::string ids;
  for (auto& v : j["prompt_ids_before_expansion"]) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(v.get<int>());
  }
  std::string cmd = test::dsvl_binary() + " dump --model " + kit + "/models/" +
                    j["model"].get<std::string>() + " --ids " + ids + " --image-token-id " +
                    std::to_string(j["tokens"]["image"].get<int>());
  for (auto& im : j["images"]) cmd += " --image " + kit + "/images/" + im.get<std::string>();
  const std::string out = test::temp_dir("dump") + "/out.safetensors";
  cmd += (debug ? " --debug" : "") + std::string(" --out ") + out;
  std::string log;
  ASSERT_EQ(test::run_command(cmd, &log), 0) << cmd << "\n" << log;

  auto got = io::WeightStore::open_file(out);
  auto want = io::WeightStore::open_file(kit + "/cases/" + name + ".safetensors");
  for (const std::string& key : want.keys()) {
    if (!debug && (key.rfind("sam.", 0) == 0 || key.rfind("siglip.", 0) == 0)) continue;
    ASSERT_TRUE(got.has(key)) << name << ": dump lacks " << key;
    const TensorView& g = got.get(key);
    const TensorView& w = want.get(key);
    ASSERT_EQ(g.shape, w.shape) << name << ": " << key;
    if (w.dtype == DType::kF32) {
      Stat s = compare(g, w, 1e-4);
      EXPECT_LT(s.first_bad, 0) << name << ": " << key << " max abs err " << s.max_abs << " (rel "
                                << s.max_abs / s.ref_max << "), first bad index " << s.first_bad;
    } else {
      ASSERT_EQ(g.dtype, w.dtype) << key;
      EXPECT_EQ(0, std::memcmp(g.data, w.data, w.nbytes())) << name << ": " << key << " differs";
    }
  }
  // Processor goldens: the u8 square exactly (via pixel_values), the hybrid 384 input within 1e-5.
  for (size_t i = 0; i < j["preprocess_files"].size(); ++i) {
    auto pre = io::WeightStore::open_file(kit + "/preprocess/" +
                                          j["preprocess_files"][i].get<std::string>());
    const TensorView& u8 = pre.get("pixel_values_u8");
    const TensorView& pv = got.get("pixel_values");
    const int64_t plane = u8.numel();
    const uint8_t* p = static_cast<const uint8_t*>(u8.data);
    for (int64_t k = 0; k < plane; ++k) {
      const float want_v = float(double(p[k]) * 0.00392156862745098);
      ASSERT_EQ(load_float(pv, int64_t(i) * plane + k), want_v)
          << name << ": pixel_values image " << i << " index " << k;
    }
    if (pre.has("low_res_input")) {
      const TensorView& lw = pre.get("low_res_input");
      const TensorView& lg = got.get("low_res_input");
      const int64_t m = lw.numel();
      double worst = 0;
      for (int64_t k = 0; k < m; ++k)
        worst = std::max(worst,
                         std::fabs(double(load_float(lg, int64_t(i) * m + k)) - load_float(lw, k)));
      EXPECT_LE(worst, 1e-5) << name << ": low_res_input image " << i;
    }
  }
}

class DumpE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(DumpE2E, MatchesGoldens) {
  const std::string kit = test::shared_path("conformance");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance not found";
  const std::string name = GetParam();
  check_case(kit, name, name == "a1_dog" || name == "c1_monday_jpeg");
}

INSTANTIATE_TEST_SUITE_P(Cases, DumpE2E,
                         ::testing::Values("a1_dog", "a3_logo_rgba", "a4_two_images",
                                           "a5_text_only", "b1_synth_rgb", "b2_dog",
                                           "c1_monday_jpeg", "c2_gray_minsize"));

TEST(DumpCli, ErrorsAreClear) {
  const std::string kit = test::shared_path("conformance");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance not found";
  std::string log;
  const std::string bin = test::dsvl_binary();
  // A kit folder has no tokenizer: the image token id must be given.
  EXPECT_NE(test::run_command(bin + " dump --model " + kit +
                                  "/models/tiny-siglip-c --ids 300,315,2 --image " + kit +
                                  "/images/monday.jpg --out /tmp/x.safetensors",
                              &log),
            0);
  EXPECT_NE(log.find("--image-token-id"), std::string::npos) << log;
  log.clear();
  EXPECT_NE(
      test::run_command(bin + " dump --model " + kit +
                            "/models/tiny-siglip-c --ids 300,2 --image-token-id 315 --image " +
                            kit + "/images/monday.jpg --out /tmp/x.safetensors",
                        &log),
      0);
  EXPECT_NE(log.find("placeholder"), std::string::npos) << log;
  log.clear();
  EXPECT_NE(
      test::run_command(bin + " dump --model /nonexistent --ids 1 --out /tmp/x.safetensors", &log),
      0);
  EXPECT_NE(log.find("/nonexistent"), std::string::npos) << log;
  log.clear();
  EXPECT_NE(
      test::run_command(
          bin + " dump --model " + kit + "/models/tiny-siglip-c --ids 1,x --out /tmp/x.st", &log),
      0);
  EXPECT_NE(log.find("not an integer"), std::string::npos) << log;
  EXPECT_EQ(log.find("terminate"), std::string::npos) << log;
}

}  // namespace
}  // namespace dsvl
