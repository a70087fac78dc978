// The language model against every case of ../shared/conformance: embedding merge, logits at
// every position, and 16 greedy steps, with the golden aligner output as the image rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/shared.h"
#include "llm/golden.h"
#include "runtime/kv_cache.h"

namespace dsvl::test {
namespace {

constexpr double kTol = 1e-4;  // × max|golden| (conformance README, float32 engine)

std::vector<std::string> cases_or_skip() { return kit_case_names(); }

TEST(LlmConformance, InputsEmbedsMatchGolden) {
  const auto names = cases_or_skip();
  if (names.empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const std::string& name : names) {
    const KitCase c = load_kit_case(name);
    const KitModel& m = kit_model(c.model);
    const Tensor e = case_embeds(c, *m.llm);
    const std::vector<float> want = golden_floats(*c.tensors, "inputs_embeds");
    ASSERT_EQ(e.numel(), int64_t(want.size())) << name;
    expect_close(name + " inputs_embeds", e.ptr(), want.data(), e.numel(), kTol);
  }
}

// One prefill gives the logits at every position; the greedy steps continue from its cache
// (step 0 is the prefill's last row, as in HF generate).
TEST(LlmConformance, LogitsAndGreedyStepsMatchGolden) {
  const auto names = cases_or_skip();
  if (names.empty()) GTEST_SKIP() << "../shared/conformance not found";
  for (const std::string& name : names) {
    const KitCase c = load_kit_case(name);
    const KitModel& m = kit_model(c.model);
    const int64_t T = int64_t(c.input_ids.size()), V = m.llm->vocab_size();
    const std::vector<int64_t> want_tokens = golden_ints(*c.tensors, "greedy.tokens");
    const std::vector<float> want_steps = golden_floats(*c.tensors, "greedy.step_logits");
    const int64_t steps = int64_t(want_tokens.size());
    const Tensor e = case_embeds(c, *m.llm);
    runtime::KvCache kv(m.llm->config(), T + steps);
    // 100-row chunks: several chunks per prompt, and image runs split across chunks.
    llm::Workspace ws(m.llm->config(), 100, T + steps);
    std::vector<float> logits(static_cast<size_t>(T * V));
    m.llm->forward(e.ptr(), T, kv.view(), ws, 0, logits.data());
    EXPECT_EQ(kv.size(), T);
    const std::vector<float> want = golden_floats(*c.tensors, "logits");
    ASSERT_EQ(logits.size(), want.size()) << name;
    expect_close(name + " logits", logits.data(), want.data(), T * V, kTol);

    std::vector<float> step(logits.end() - V, logits.end());
    std::vector<float> x(static_cast<size_t>(m.llm->hidden_size()));
    for (int64_t s = 0; s < steps; ++s) {
      expect_close(name + " greedy.step_logits[" + std::to_string(s) + "]", step.data(),
                   want_steps.data() + s * V, V, kTol);
      const int32_t tok = int32_t(std::max_element(step.begin(), step.end()) - step.begin());
      ASSERT_EQ(tok, want_tokens[size_t(s)]) << name << " greedy step " << s;
      m.llm->embed(&tok, 1, x.data());
      m.llm->forward(x.data(), 1, kv.view(), ws, 0, step.data());
    }
  }
}

}  // namespace
}  // namespace dsvl::test
