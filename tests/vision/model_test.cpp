// Weight binding and API behaviour of the vision towers and aligners: unused tensors provably
// do not matter, missing / mis-shaped tensors are named, batches equal single images.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "aligner/aligner.h"
#include "core/error.h"
#include "vision/model_copy.h"
#include "vision/vision.h"
#include "vision/vision_case.h"

namespace dsvl::vision {
namespace {

struct Output {
  VisionFeatures features;
  Tensor embeddings;
};

Output encode(const VisionModel& vision, const aligner::Aligner& aligner,
              const test::VisionCase& c) {
  Output o;
  o.features = vision.encode(c.pixels.data(), c.low_res.empty() ? nullptr : c.low_res.data(), c.n);
  o.embeddings = aligner.forward(o.features, c.n);
  return o;
}

Output run(const std::string& dir, const test::VisionCase& c) {
  const io::ModelConfig cfg = io::load_model_config(dir);
  const io::WeightStore store = io::WeightStore::open(dir);
  return encode(*VisionModel::load(cfg, store), *aligner::Aligner::load(cfg, store), c);
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.data.size() == b.data.size() &&
         (a.data.empty() || std::memcmp(a.ptr(), b.ptr(), a.data.size() * sizeof(float)) == 0);
}

bool same(const Output& a, const Output& b) {
  return same(a.features.high, b.features.high) && same(a.features.low, b.features.low) &&
         same(a.features.out, b.features.out) && same(a.embeddings, b.embeddings);
}

// The checkpoint tensors the official forward never reads (spec §2.1, §8.2–3).
bool is_unused(const std::string& key) {
  return key.find(".attn_pool.") != std::string::npos ||
         key.rfind("vision_model.high_layer_norm.", 0) == 0 ||
         key.rfind("vision_model.low_layer_norm.", 0) == 0;
}

void check_unused_tensors(const std::string& case_name) {
  const auto c = test::load_vision_case(case_name);
  if (!c) GTEST_SKIP() << "../shared/conformance not found";
  const Output base = run(c->model_dir, *c);

  int perturbed = 0;
  const std::string changed = test::copy_model(c->model_dir, "unused-perturbed", [&](auto& t) {
    if (is_unused(t.name)) test::perturb(t, 3.0f), ++perturbed;
    return true;
  });
  EXPECT_GT(perturbed, 10) << "expected attn_pool.* (and the hybrid's layer norms) in the kit";
  EXPECT_TRUE(same(base, run(changed, *c))) << case_name << ": perturbing unused tensors changed "
                                            << "the vision or aligner output";

  // Absent altogether: the loader must not demand them either.
  const std::string dropped =
      test::copy_model(c->model_dir, "unused-dropped", [&](auto& t) { return !is_unused(t.name); });
  EXPECT_TRUE(same(base, run(dropped, *c))) << case_name << ": output changed without them";

  // Control: the same perturbation of a used tensor (SigLIP's final norm) does show.
  const std::string used = test::copy_model(c->model_dir, "used-perturbed", [&](auto& t) {
    if (t.name.find("vision_tower.norm.bias") != std::string::npos) test::perturb(t, 3.0f);
    return true;
  });
  EXPECT_FALSE(same(base, run(used, *c))) << case_name << ": control perturbation had no effect";
}

TEST(VisionModel, UnusedTensorsDoNotAffectOutputHybrid) { check_unused_tensors("a1_dog"); }
TEST(VisionModel, UnusedTensorsDoNotAffectOutputSiglip) { check_unused_tensors("c1_monday_jpeg"); }

// Where the bf16 path converts every matrix (F16 and F32 checkpoints) and hands the file's
// pages back, the towers and aligners keep no mapped tensor either (biases and position
// embeddings are copied): a mapped one would fault its file's whole 2 MB page back in.
// Checked by overwriting the file after loading: the outputs must not change.
TEST(VisionModel, Bf16PathReadsNoConvertedFileAfterLoading) {
  for (const char* name : {"c1_monday_jpeg", "a1_dog"}) {  // F16 SigLIP-only, F32 hybrid
    SCOPED_TRACE(name);
    const auto c = test::load_vision_case(name);
    if (!c) GTEST_SKIP() << "../shared/conformance not found";
    const std::string dir =
        test::copy_model(c->model_dir, "overwritten", [](auto&) { return true; });
    const io::ModelConfig cfg = io::load_model_config(dir);
    const io::WeightStore store = io::WeightStore::open(dir);
    const auto vision = VisionModel::load(cfg, store, kernels::Precision::kBF16);
    const auto aligner = aligner::Aligner::load(cfg, store, kernels::Precision::kBF16);
    const Output before = encode(*vision, *aligner, *c);
    const std::string file = dir + "/model.safetensors";
    std::FILE* f = std::fopen(file.c_str(), "r+b");
    ASSERT_NE(f, nullptr) << file;
    uint64_t header = 0;
    ASSERT_EQ(std::fread(&header, 8, 1, f), 1u);
    ASSERT_EQ(std::fseek(f, 0, SEEK_END), 0);
    const long end = std::ftell(f);
    ASSERT_EQ(std::fseek(f, long(8 + header), SEEK_SET), 0);
    const std::vector<unsigned char> junk(size_t(end) - 8 - header, 0x3c);
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    std::fclose(f);
    EXPECT_TRUE(same(before, encode(*vision, *aligner, *c)))
        << "the output changed with the file's contents";
  }
}

TEST(VisionModel, BatchOfTwoEqualsTwoSingleEncodes) {
  for (const char* name : {"a4_two_images", "c1_monday_jpeg"}) {
    SCOPED_TRACE(name);
    auto c = test::load_vision_case(name);
    if (!c) GTEST_SKIP() << "../shared/conformance not found";
    // Make a batch of two different images from what the case has: the images themselves,
    // or the one image and its mirror.
    if (c->n == 1) {
      const size_t per = c->pixels.size(), lper = c->low_res.size();
      c->pixels.resize(2 * per);
      std::reverse_copy(c->pixels.begin(), c->pixels.begin() + per, c->pixels.begin() + per);
      c->low_res.resize(2 * lper);
      std::reverse_copy(c->low_res.begin(), c->low_res.begin() + lper, c->low_res.begin() + lper);
      c->n = 2;
    }
    const io::ModelConfig cfg = io::load_model_config(c->model_dir);
    const io::WeightStore store = io::WeightStore::open(c->model_dir);
    const auto vision = VisionModel::load(cfg, store);
    const bool hybrid = cfg.is_hybrid();
    const VisionFeatures both =
        vision->encode(c->pixels.data(), hybrid ? c->low_res.data() : nullptr, 2);
    const size_t per = c->pixels.size() / 2, lper = c->low_res.size() / 2;
    for (int i = 0; i < 2; ++i) {
      const VisionFeatures one = vision->encode(c->pixels.data() + i * per,
                                                hybrid ? c->low_res.data() + i * lper : nullptr, 1);
      for (auto [batch, single] :
           {std::pair{&both.high, &one.high}, {&both.low, &one.low}, {&both.out, &one.out}}) {
        if (single->data.empty()) continue;
        const size_t n = single->data.size();
        EXPECT_EQ(0, std::memcmp(batch->ptr() + i * n, single->ptr(), n * sizeof(float)))
            << "image " << i;
      }
    }
  }
}

// Without low_res the hybrid makes its 384 input itself, with the same resize.
TEST(VisionModel, HybridComputesLowResWhenNotGiven) {
  const auto c = test::load_vision_case("a3_logo_rgba");
  if (!c) GTEST_SKIP() << "../shared/conformance not found";
  const io::ModelConfig cfg = io::load_model_config(c->model_dir);
  const io::WeightStore store = io::WeightStore::open(c->model_dir);
  const auto vision = VisionModel::load(cfg, store);
  const VisionFeatures given = vision->encode(c->pixels.data(), c->low_res.data(), 1);
  const VisionFeatures own = vision->encode(c->pixels.data(), nullptr, 1);
  EXPECT_TRUE(same(given.low, own.low));
  EXPECT_TRUE(same(given.high, own.high));
}

TEST(VisionModel, MissingTensorIsNamed) {
  const auto c = test::load_vision_case("a1_dog");
  if (!c) GTEST_SKIP() << "../shared/conformance not found";
  const std::string key = "vision_model.vision_tower_high.vision_tower.blocks.1.attn.rel_pos_h";
  const std::string dir =
      test::copy_model(c->model_dir, "missing", [&](auto& t) { return t.name != key; });
  const io::ModelConfig cfg = io::load_model_config(dir);
  const io::WeightStore store = io::WeightStore::open(dir);
  try {
    VisionModel::load(cfg, store);
    FAIL() << "loading without " << key << " succeeded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(VisionModel, MisShapedTensorIsNamed) {
  const auto c = test::load_vision_case("c1_monday_jpeg");
  if (!c) GTEST_SKIP() << "../shared/conformance not found";
  const std::string key = "vision_model.vision_tower.blocks.2.mlp.fc1.weight";
  const std::string dir = test::copy_model(c->model_dir, "misshaped", [&](auto& t) {
    if (t.name == key) std::swap(t.shape[0], t.shape[1]);  // [256, 64] → [64, 256]
    return true;
  });
  const io::ModelConfig cfg = io::load_model_config(dir);
  const io::WeightStore store = io::WeightStore::open(dir);
  try {
    VisionModel::load(cfg, store);
    FAIL() << "loading a transposed " << key << " succeeded";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find("[64, 256]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[256, 64]"), std::string::npos) << msg;
  }
}

TEST(VisionModel, AlignerRejectsFeaturesOfTheOtherLayout) {
  const auto c = test::load_vision_case("c1_monday_jpeg");
  if (!c) GTEST_SKIP() << "../shared/conformance not found";
  const io::ModelConfig cfg = io::load_model_config(c->model_dir);
  const io::WeightStore store = io::WeightStore::open(c->model_dir);
  const auto aligner = aligner::Aligner::load(cfg, store);
  VisionFeatures f;
  f.high = Tensor({1, 64, 24, 24});
  EXPECT_THROW(aligner->forward(f, 1), ShapeError);
}

TEST(VisionModel, LowResInputIsChecked) {
  for (const char* name : {"a1_dog", "c1_monday_jpeg"}) {
    const auto c = test::load_vision_case(name);
    if (!c) GTEST_SKIP() << "../shared/conformance not found";
    const io::ModelConfig cfg = io::load_model_config(c->model_dir);
    const io::WeightStore store = io::WeightStore::open(c->model_dir);
    const auto vision = VisionModel::load(cfg, store);
    // A low-res input to the SigLIP-only tower and n = 0 are request errors.
    if (!cfg.is_hybrid()) {
      EXPECT_THROW(vision->encode(c->pixels.data(), c->pixels.data(), 1), RequestError) << name;
    }
    EXPECT_THROW(vision->encode(c->pixels.data(), nullptr, 0), RequestError) << name;
    EXPECT_EQ(vision->tokens_per_image(), 576);
    EXPECT_EQ(vision->image_size(), c->image_size);
  }
}

}  // namespace
}  // namespace dsvl::vision
