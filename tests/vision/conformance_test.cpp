// Vision towers and aligners against the conformance kit (spec §3.2–§3.5): every case with
// images, every debug intermediate of a1_dog and c1_monday_jpeg.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "aligner/aligner.h"
#include "io/config.h"
#include "vision/vision.h"
#include "vision/vision_case.h"

namespace dsvl::vision {
namespace {

struct Loaded {
  io::ModelConfig config;
  std::unique_ptr<io::WeightStore> store;
  std::unique_ptr<VisionModel> vision;
  std::unique_ptr<aligner::Aligner> aligner;
};

// Models are shared by the tests of this file (loading is cheap, but keeps runs short).
const Loaded& model(const std::string& dir) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(dir);
  if (it != cache.end()) return it->second;
  Loaded m;
  m.config = io::load_model_config(dir);
  m.store = std::make_unique<io::WeightStore>(io::WeightStore::open(dir));
  m.vision = VisionModel::load(m.config, *m.store);
  m.aligner = aligner::Aligner::load(m.config, *m.store);
  return cache.emplace(dir, std::move(m)).first->second;
}

VisionFeatures encode(const test::VisionCase& c, DebugTaps* taps = nullptr) {
  const Loaded& m = model(c.model_dir);
  return m.vision->encode(c.pixels.data(), c.low_res.empty() ? nullptr : c.low_res.data(), c.n,
                          taps);
}

TEST(VisionConformance, EveryCaseMatchesGoldens) {
  const auto names = test::vision_case_names();
  if (names.empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const auto c = test::load_vision_case(name);
    ASSERT_TRUE(c);
    const Loaded& m = model(c->model_dir);
    const VisionFeatures f = encode(*c);
    const io::WeightStore& g = *c->golden;
    if (m.config.is_hybrid()) {
      EXPECT_TRUE(test::matches_golden(f.high, g.get("vision.high"), name + " vision.high"));
      EXPECT_TRUE(test::matches_golden(f.low, g.get("vision.low"), name + " vision.low"));
    } else {
      EXPECT_TRUE(test::matches_golden(f.out, g.get("vision.out"), name + " vision.out"));
    }
    const Tensor emb = m.aligner->forward(f, c->n);
    EXPECT_TRUE(test::matches_golden(emb, g.get("aligner.out"), name + " aligner.out"));
  }
}

void check_debug_taps(const std::string& name) {
  const auto c = test::load_vision_case(name);
  if (!c) GTEST_SKIP() << "../shared/conformance not found";
  DebugTaps taps;
  encode(*c, &taps);
  int checked = 0;
  for (const std::string& key : c->golden->keys()) {
    if (key.rfind("sam.", 0) != 0 && key.rfind("siglip.", 0) != 0) continue;
    ++checked;
    auto it = taps.tensors.find(key);
    if (it == taps.tensors.end()) {
      ADD_FAILURE() << name << ": debug tensor " << key << " was not captured";
      continue;
    }
    EXPECT_TRUE(test::matches_golden(it->second, c->golden->get(key), name + " " + key));
  }
  EXPECT_GE(checked, 3) << name << ": expected debug intermediates in the golden file";
}

// The towers' inputs from our image pipeline are the kit's: pixels exact (they are u8·factor),
// the hybrid's 384 input within 1e-5 (README "Recommended checks").
TEST(VisionConformance, OurPreprocessingGivesTheKitInputs) {
  const auto names = test::vision_case_names();
  if (names.empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const std::string& name : names) {
    const auto ours = test::load_vision_case(name);
    const auto kit = test::load_vision_case(name, test::PixelSource::kGoldenPixels);
    ASSERT_TRUE(ours && kit);
    EXPECT_TRUE(ours->pixels == kit->pixels) << name << ": pixel_values differ";
    ASSERT_EQ(ours->low_res.size(), kit->low_res.size()) << name;
    double worst = 0;
    for (size_t i = 0; i < ours->low_res.size(); ++i)
      worst = std::max(worst, double(std::fabs(ours->low_res[i] - kit->low_res[i])));
    EXPECT_LE(worst, 1e-5) << name << ": low_res_input max abs err " << worst;
  }
}

TEST(VisionConformance, HybridDebugIntermediatesA1Dog) { check_debug_taps("a1_dog"); }
TEST(VisionConformance, SiglipDebugIntermediatesC1MondayJpeg) {
  check_debug_taps("c1_monday_jpeg");
}

}  // namespace
}  // namespace dsvl::vision
