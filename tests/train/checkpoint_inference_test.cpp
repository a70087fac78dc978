// A model trained here and saved with save_model is a model folder the inference side loads:
// the runtime Pipeline reads it and its language model gives the logits of the trained
// weights (the same next-token NLL as the in-memory TrainModel), and `dsvl info` /
// `dsvl run` accept the folder (tokenizer and processor files copied over).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/shared.h"
#include "io/synth.h"
#include "llm/workspace.h"
#include "runtime/kv_cache.h"
#include "runtime/pipeline.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/stages.h"

namespace dsvl::train {
namespace {

// −log softmax(logits)[target], in double.
double nll_of(const float* logits, int64_t V, int64_t target) {
  const float mx = *std::max_element(logits, logits + V);
  double s = 0;
  for (int64_t j = 0; j < V; ++j) s += std::exp(double(logits[j]) - double(mx));
  return double(mx) + std::log(s) - double(logits[target]);
}

// Next-token NLL of `ids` under the Pipeline's language model (one prefill, all logits).
std::vector<double> pipeline_nll(const runtime::Pipeline& p, const std::vector<int32_t>& ids) {
  const llm::Llm& lm = p.llm();
  const int64_t T = int64_t(ids.size()), V = lm.vocab_size();
  std::vector<float> x(size_t(T * lm.hidden_size())), logits(size_t(T * V));
  lm.embed(ids.data(), T, x.data());
  runtime::KvCache kv(lm.config(), T);
  llm::Workspace ws(lm.config(), T, T);
  lm.forward(x.data(), T, kv.view(), ws, 0, logits.data());
  std::vector<double> nll;
  for (int64_t t = 0; t + 1 < T; ++t) nll.push_back(nll_of(logits.data() + t * V, V, ids[t + 1]));
  return nll;
}

TEST(CheckpointInference, TrainedFolderLoadsInPipelineInfoAndRun) {
  io::SynthOptions so;
  so.like = "1.3b-chat";
  so.tiny = true;
  so.seed = 11;
  so.dtype = DType::kF32;
  so.out_dir = test::temp_dir("ckpt-infer-src");
  io::synth_model(so);

  // The prompt through the folder's own tokenizer, as `dsvl run` would see text.
  const auto src = runtime::Pipeline::load(so.out_dir);
  const std::vector<int32_t> ids =
      src->tokenizer().encode("The quick brown fox jumps over the lazy dog.", true);
  ASSERT_GE(ids.size(), 4u);
  Row row;
  row.ids.assign(ids.begin(), ids.end());
  row.labels = row.ids;
  row.labels[0] = kIgnoreIndex;

  // Two stage-2 steps with a large learning rate: the weights move visibly.
  TrainModel m(so.out_dir);
  const TrainableSet ts = stage_trainable_set(2, m.config());
  m.set_trainable(ts.prefixes, ts.excluded);
  AdamWConfig ac;
  ac.lr = 1e-2;
  AdamW opt(ac);
  for (int s = 0; s < 2; ++s) {
    m.params().zero_grad();
    m.forward_backward({row});
    opt.step(m.params(), ac.lr, opt.clip_coef(opt.grad_norm(m.params())));
  }
  const StepResult trained = m.forward({row});

  SaveOptions save;
  save.dtype = SaveDType::kF32;
  const std::string dir = test::temp_dir("ckpt-infer-out");
  save_model(m, dir, save);

  const auto loaded = runtime::Pipeline::load(dir);
  ASSERT_TRUE(loaded->has_tokenizer());
  EXPECT_EQ(loaded->tokenizer().encode("The quick brown fox jumps over the lazy dog.", true), ids);
  const std::vector<double> got = pipeline_nll(*loaded, ids);
  const std::vector<double> before = pipeline_nll(*src, ids);
  ASSERT_EQ(got.size(), trained.token_nll[0].size());
  double moved = 0;
  for (size_t t = 0; t < got.size(); ++t) {
    // Inference kernels sum in another order than the training GEMMs: float32 rounding only.
    EXPECT_NEAR(got[t], trained.token_nll[0][t], 1e-4 * std::max(1.0, got[t])) << "position " << t;
    moved = std::max(moved, std::fabs(got[t] - before[t]));
  }
  EXPECT_GT(moved, 1e-2) << "training did not change the saved weights";

  std::string log;
  ASSERT_EQ(test::run_command(test::dsvl_binary() + " info " + dir, &log), 0) << log;
  EXPECT_NE(log.find("F32"), std::string::npos) << log;
  ASSERT_EQ(test::run_command(test::dsvl_binary() + " run -m " + dir +
                                  " -p \"Hello\" -n 4 --temp 0 --no-timings -t 1",
                              &log),
            0)
      << log;
}

}  // namespace
}  // namespace dsvl::train
