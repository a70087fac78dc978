// Checkpoints: save → load gives identical outputs; resuming from a saved training state
// gives the same losses as an uninterrupted run, bit for bit.
#include "train/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/shared.h"
#include "io/safetensors.h"
#include "train/kit_case.h"
#include "train/stages.h"

namespace dsvl::train {
namespace {
namespace fs = std::filesystem;

std::string stage2_case() {
  const std::string kit = test::shared_path("conformance-train");
  return kit.empty() ? "" : kit + "/cases/tiny-siglip-c_stage2.json";
}

std::vector<float> train_steps(TrainModel& m, AdamW& opt, const std::vector<Row>& rows, int n) {
  std::vector<float> losses;
  for (int i = 0; i < n; ++i) {
    m.params().zero_grad();
    losses.push_back(float(m.forward_backward(rows).loss()));
    opt.clip_gradients(m.params());
    opt.step(m.params(), opt.config().lr);
  }
  return losses;
}

AdamWConfig adamw_config() {
  AdamWConfig c;
  c.lr = 1e-3;
  c.weight_decay = 0.1;
  return c;
}

TEST(Checkpoint, SaveLoadGivesIdenticalOutputs) {
  const std::string cj = stage2_case();
  if (cj.empty()) GTEST_SKIP() << "../shared/conformance-train not found";
  KitBatch kb = load_kit_batch(cj);
  TrainModel m(kb.model_dir);
  m.set_image_token_id(kb.image_token_id);
  const TrainableSet ts = stage_trainable_set(2, m.config());
  m.set_trainable(ts.prefixes, ts.excluded);
  AdamW opt(adamw_config());
  train_steps(m, opt, kb.rows, 1);  // master weights now differ from the checkpoint
  const StepResult before = m.forward(kb.rows);

  const std::string dir = test::temp_dir("ckpt");
  SaveOptions so;
  so.dtype = SaveDType::kF32;
  so.max_shard_bytes = 256 << 10;  // force several shards
  save_model(m, dir, so);
  ASSERT_TRUE(fs::exists(fs::path(dir) / "model.safetensors.index.json"));
  ASSERT_TRUE(fs::exists(fs::path(dir) / "config.json"));
  ASSERT_TRUE(fs::exists(fs::path(dir) / "processor_config.json"));
  const io::WeightStore saved = io::WeightStore::open(dir);
  EXPECT_EQ(saved.keys(), m.params().store().keys());  // released layout: same keys

  TrainModel loaded(dir);
  loaded.set_image_token_id(kb.image_token_id);
  const StepResult after = loaded.forward(kb.rows);
  EXPECT_EQ(before.nll_sum, after.nll_sum);
  ASSERT_EQ(before.token_nll.size(), after.token_nll.size());
  for (size_t b = 0; b < before.token_nll.size(); ++b)
    EXPECT_EQ(before.token_nll[b], after.token_nll[b]) << "row " << b;

  // bf16 folder: loads, and differs from the f32 one only by rounding.
  so.dtype = SaveDType::kBF16;
  so.max_shard_bytes = int64_t(1) << 40;
  const std::string dir16 = test::temp_dir("ckpt16");
  save_model(m, dir16, so);
  ASSERT_TRUE(fs::exists(fs::path(dir16) / "model.safetensors"));
  TrainModel l16(dir16);
  l16.set_image_token_id(kb.image_token_id);
  EXPECT_NEAR(l16.forward(kb.rows).loss(), before.loss(), 0.05);
}

TEST(Checkpoint, ResumeMatchesUninterruptedRun) {
  const std::string cj = stage2_case();
  if (cj.empty()) GTEST_SKIP() << "../shared/conformance-train not found";
  KitBatch kb = load_kit_batch(cj);
  auto fresh = [&](const std::string& dir) {
    auto m = std::make_unique<TrainModel>(dir);
    m->set_image_token_id(kb.image_token_id);
    const TrainableSet ts = stage_trainable_set(2, m->config());
    m->set_trainable(ts.prefixes, ts.excluded);
    return m;
  };
  auto full = fresh(kb.model_dir);
  AdamW opt_full(adamw_config());
  const std::vector<float> ref = train_steps(*full, opt_full, kb.rows, 4);

  auto first = fresh(kb.model_dir);
  AdamW opt1(adamw_config());
  const std::vector<float> a = train_steps(*first, opt1, kb.rows, 2);
  const std::string dir = test::temp_dir("resume");
  SaveOptions so;
  so.dtype = SaveDType::kBF16;  // the folder rounds; the training state keeps the masters
  save_model(*first, dir, so);
  save_training_state(*first, opt1, dir);
  first.reset();

  // The frozen tensors must come back bit-identical: bf16 rounding of the F16 vision tower
  // would change them, so the resumed run reads frozen weights from the source folder and
  // trainable ones from the training state.
  auto second = fresh(kb.model_dir);
  AdamW opt2(adamw_config());
  load_training_state(*second, opt2, dir);
  EXPECT_EQ(opt2.step_count(), 2);
  const std::vector<float> b = train_steps(*second, opt2, kb.rows, 2);
  EXPECT_EQ(a[0], ref[0]);
  EXPECT_EQ(a[1], ref[1]);
  EXPECT_EQ(b[0], ref[2]);
  EXPECT_EQ(b[1], ref[3]);
}

}  // namespace
}  // namespace dsvl::train
