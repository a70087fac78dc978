// What `dsvl run` and `dsvl chat` rely on from the Engine's stream, checked through the public
// API on the tiny models: every streamed piece is whole UTF-8, the pieces add up to the
// answer, and generation ends at EOS (which is not part of the text).
#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "dsvl/dsvl.h"

namespace dsvl::test {
namespace {

Request ask(const std::string& text, float temperature, int max_tokens) {
  Request r;
  r.messages.push_back({"user", text, {}});
  r.sampling.temperature = temperature;
  r.sampling.top_k = 0;  // the whole vocabulary: byte tokens and split characters come up
  r.sampling.seed = 5;
  r.sampling.max_tokens = max_tokens;
  return r;
}

TEST(EngineStream, PiecesAreWholeUtf8AndAddUpToTheAnswer) {
  const std::string m = tiny_model("1.3b-chat");
  if (m.empty()) GTEST_SKIP() << "../shared/tokenizers/deepseek_vl missing";
  LoadParams lp;
  lp.model_dir = m;
  auto engine = Engine::load(lp);
  std::string joined;
  std::vector<int32_t> ids;
  const Result r =
      engine->generate(ask("Write something in Chinese.", 1.0f, 60), [&](const Delta& d) {
        EXPECT_TRUE(valid_utf8(d.text)) << "piece " << ids.size() << ": " << d.text;
        joined += d.text;
        if (d.token >= 0) ids.push_back(d.token);
      });
  ASSERT_NE(r.finish_reason, "error") << r.error;
  EXPECT_EQ(joined, r.text);
  EXPECT_TRUE(valid_utf8(r.text));
  if (r.finish_reason == "length") {  // nothing cut by a stop string
    EXPECT_EQ(r.usage.completion_tokens, 60);
    EXPECT_EQ(r.text, engine->detokenize(ids, true));
  }
}

TEST(EngineStream, EndsAtEos) {
  const std::string m = eos_model();
  if (m.empty()) GTEST_SKIP() << "../shared/tokenizers/deepseek_vl missing";
  LoadParams lp;
  lp.model_dir = m;
  auto engine = Engine::load(lp);
  std::vector<int32_t> ids;
  const Result r = engine->generate(ask("Say something.", 1.0f, 64), [&](const Delta& d) {
    if (d.token >= 0) ids.push_back(d.token);
  });
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.completion_tokens, 1);
  EXPECT_EQ(r.text, "");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], 100001);  // <｜end▁of▁sentence｜>
}

}  // namespace
}  // namespace dsvl::test
