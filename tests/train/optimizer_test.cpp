// AdamW against a hand-computed update, schedules, trainable sets, gradient accumulation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/shared.h"
#include "core/error.h"
#include "train/adamw.h"
#include "train/kit_case.h"
#include "train/stages.h"

namespace dsvl::train {
namespace {

TEST(AdamW, MatchesTorchFormulaAndDecaysOnlyMatrices) {
  ParamSet ps;
  ps.add("w", {2, 2}, {1.0f, -2.0f, 0.5f, 0.0f});
  ps.add("b", {2}, {1.0f, 1.0f});
  ps.set_trainable({""});
  AdamWConfig c;
  c.lr = 0.01;
  c.weight_decay = 0.1;
  c.max_grad_norm = 0;
  AdamW opt(c);
  for (Param* p : ps.trainable())
    for (size_t i = 0; i < p->grad.size(); ++i) p->grad[i] = 0.5f * float(i + 1);
  opt.step(ps, c.lr);
  // Step 1: m = 0.1 g, v = 0.05 g², m̂ = g, v̂ = g² → update −lr·g/(|g| + eps) = −lr·sign(g).
  const Param& w = ps.at("w");
  EXPECT_NEAR(w.value[0], 1.0f * (1 - 0.001f) - 0.01f, 1e-6);
  EXPECT_NEAR(w.value[3], 0.0f - 0.01f, 1e-6);
  const Param& b = ps.at("b");
  EXPECT_NEAR(b.value[0], 1.0f - 0.01f, 1e-6);  // 1-D: no decay
  EXPECT_EQ(opt.step_count(), 1);
}

TEST(AdamW, ClipUsesGlobalNormWithEpsilon) {
  ParamSet ps;
  ps.add("a", {2}, {0, 0});
  ps.add("b", {1}, {0});
  ps.set_trainable({""});
  ps.at("a").grad = {3.0f, 0.0f};
  ps.at("b").grad = {4.0f};
  AdamW opt;  // max_grad_norm 1
  EXPECT_FLOAT_EQ(float(opt.clip_gradients(ps)), 5.0f);
  EXPECT_NEAR(ps.at("a").grad[0], 3.0 / (5.0 + 1e-6), 1e-7);
  EXPECT_NEAR(ps.at("b").grad[0], 4.0 / (5.0 + 1e-6), 1e-7);
  ps.at("a").grad = {0.3f, 0.0f};
  ps.at("b").grad = {0.4f};
  opt.clip_gradients(ps);  // norm 0.5 < 1: unchanged
  EXPECT_FLOAT_EQ(ps.at("a").grad[0], 0.3f);
}

// The vectorised update and norm (AVX-512 body + scalar tail, split over threads) on odd
// sizes against the torch formulas in double, over three steps with clipping, decay and a
// fused zero_grad.
TEST(AdamW, VectorisedStepAndNormMatchDoubleReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  ParamSet ps;
  const std::vector<Shape> shapes = {{3, 23}, {70001}, {17}};
  for (size_t t = 0; t < shapes.size(); ++t) {
    std::vector<float> v(size_t(shape_numel(shapes[t])));
    for (auto& x : v) x = nd(rng);
    ps.add("p" + std::to_string(t), shapes[t], v);
  }
  ps.set_trainable({""});
  AdamWConfig c;
  c.lr = 0.01;
  c.weight_decay = 0.1;
  c.max_grad_norm = 2.0;
  AdamW opt(c);
  struct Ref {
    std::vector<double> w, m, v;
  };
  std::vector<Ref> ref;
  for (Param* p : ps.trainable())
    ref.push_back({std::vector<double>(p->value.begin(), p->value.end()),
                   std::vector<double>(p->value.size()), std::vector<double>(p->value.size())});
  for (int step = 1; step <= 3; ++step) {
    double sq = 0;
    for (Param* p : ps.trainable())
      for (auto& g : p->grad) {
        g = nd(rng) * 0.05f;
        sq += double(g) * double(g);
      }
    const double norm = opt.grad_norm(ps);
    ASSERT_NEAR(norm, std::sqrt(sq), 1e-5 * std::sqrt(sq));
    const float coef = opt.clip_coef(norm);
    const double cref = std::min(1.0, c.max_grad_norm / (std::sqrt(sq) + 1e-6));
    std::vector<std::vector<double>> grads;
    for (Param* p : ps.trainable()) grads.emplace_back(p->grad.begin(), p->grad.end());
    opt.step(ps, c.lr, coef, /*zero_grad=*/true);
    const double bc1 = 1 - std::pow(c.beta1, step), bc2 = 1 - std::pow(c.beta2, step);
    size_t t = 0;
    for (Param* p : ps.trainable()) {
      Ref& r = ref[t];
      const double decay = p->shape.size() >= 2 ? 1 - c.lr * c.weight_decay : 1.0;
      for (size_t i = 0; i < p->value.size(); ++i) {
        const double g = grads[t][i] * cref;
        r.m[i] = c.beta1 * r.m[i] + (1 - c.beta1) * g;
        r.v[i] = c.beta2 * r.v[i] + (1 - c.beta2) * g * g;
        r.w[i] =
            r.w[i] * decay - c.lr / bc1 * r.m[i] / (std::sqrt(r.v[i]) / std::sqrt(bc2) + c.eps);
        ASSERT_NEAR(p->value[i], r.w[i], 2e-6) << p->key << "[" << i << "] step " << step;
        ASSERT_EQ(p->grad[i], 0.0f) << "zero_grad";
      }
      ++t;
    }
  }
}

TEST(LrSchedule, ConstantWarmupCosineStep) {
  LrSchedule s;
  EXPECT_DOUBLE_EQ(s.lr_at(1e-3, 7), 1e-3);
  s.kind = LrSchedule::Kind::kWarmupCosine;
  s.warmup_steps = 10;
  s.total_steps = 110;
  s.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(s.lr_at(1.0, 5), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(1.0, 10), 1.0);
  EXPECT_NEAR(s.lr_at(1.0, 60), 0.55, 1e-12);  // half way: floor + (1 − floor)/2
  EXPECT_NEAR(s.lr_at(1.0, 110), 0.1, 1e-12);
  EXPECT_NEAR(s.lr_at(1.0, 500), 0.1, 1e-12);
  s.kind = LrSchedule::Kind::kStep;
  s.step_size = 3;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr_at(1.0, 3), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(1.0, 4), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(1.0, 7), 0.25);
}

TEST(TrainableSets, StagesAndCustomPrefixes) {
  io::ModelConfig hybrid;
  hybrid.vision.kind = io::VisionKind::kHybrid;
  const TrainableSet s3 = stage_trainable_set(3, hybrid);
  ASSERT_EQ(s3.prefixes.size(), 3u);
  EXPECT_EQ(s3.prefixes[2], "vision_model.vision_tower_low.vision_tower.");
  EXPECT_EQ(s3.excluded[0], "vision_model.vision_tower_low.vision_tower.attn_pool.");
  io::ModelConfig clip;
  EXPECT_EQ(stage_trainable_set(3, clip).prefixes[2], "vision_model.vision_tower.");
  EXPECT_EQ(stage_trainable_set(1, clip).prefixes, std::vector<std::string>{"aligner."});
  EXPECT_THROW(stage_trainable_set(4, clip), ConfigError);
  const TrainableSet c = parse_trainable_set("aligner.,language_model.model.layers.1.", clip);
  EXPECT_EQ(c.prefixes.size(), 2u);
  ParamSet ps;
  ps.add("aligner.layers.0.weight", {1, 1}, {1});
  ps.add("language_model.model.layers.1.mlp.up_proj.weight", {1, 1}, {1});
  ps.add("language_model.model.layers.10.mlp.up_proj.weight", {1, 1}, {1});
  ps.add("vision_model.vision_tower.attn_pool.latent", {1}, {1});
  EXPECT_EQ(ps.set_trainable(c.prefixes, c.excluded), 2);
  EXPECT_FALSE(ps.at("language_model.model.layers.10.mlp.up_proj.weight").trainable);
}

// Two micro-batches with grad_scale = 1/(all loss tokens) accumulate the gradient of the
// whole batch's mean loss.
TEST(GradientAccumulation, MicroBatchesSumToTheBatchGradient) {
  const std::string kit = test::shared_path("conformance-train");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance-train not found";
  KitBatch kb = load_kit_batch(kit + "/cases/tiny-siglip-c_stage2.json");
  TrainModel m(kb.model_dir);
  m.set_image_token_id(kb.image_token_id);
  const TrainableSet ts = stage_trainable_set(2, m.config());
  m.set_trainable(ts.prefixes, ts.excluded);
  m.forward_backward(kb.rows);
  std::vector<std::vector<float>> full;
  for (Param* p : m.params().trainable()) full.push_back(p->grad);
  m.params().zero_grad();
  const double scale = 1.0 / double(count_loss_tokens(kb.rows));
  for (const Row& r : kb.rows) m.forward_backward({r}, scale);
  size_t i = 0;
  for (Param* p : m.params().trainable()) {
    double mx = 0, err = 0;
    for (size_t j = 0; j < p->grad.size(); ++j) {
      mx = std::max(mx, double(std::fabs(full[i][j])));
      err = std::max(err, double(std::fabs(full[i][j] - p->grad[j])));
    }
    EXPECT_LE(err, 1e-5 * mx + 1e-12) << p->key;
    ++i;
  }
}

}  // namespace
}  // namespace dsvl::train
