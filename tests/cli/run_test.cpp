// End to end: the real `dsvl run` binary on tiny random models with the real DeepSeek
// tokenizer — prompts with zero, one and two images (interleaved), the hybrid layout, --raw,
// reproducibility, stop strings, stop at EOS, timings on stderr.
#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace dsvl::test {
namespace {

class CliRun : public TinyChatFixture {};

// The answer is stdout minus the final newline `dsvl run` adds.
std::string answer(const CliResult& r) {
  return !r.out.empty() && r.out.back() == '\n' ? r.out.substr(0, r.out.size() - 1) : r.out;
}

void expect_ok(const CliResult& r) {
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(valid_utf8(r.out)) << r.out;
  // Timings go to stderr only, and no terminal control sequence reaches a pipe.
  EXPECT_NE(r.err.find("load:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("tok/s"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find('\033'), std::string::npos);
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
}

TEST_F(CliRun, TextOnlyStreamsTheAnswerAndPrintsTimings) {
  const CliResult r = run_dsvl("run -m " + m + " -p 'Hello, who are you?' -n 12 --temp 0");
  expect_ok(r);
  EXPECT_FALSE(answer(r).empty());
  EXPECT_NE(r.err.find("image encode:"), std::string::npos);
  EXPECT_NE(r.err.find("prefill:"), std::string::npos);
  EXPECT_NE(r.err.find("decode:"), std::string::npos);
  EXPECT_NE(r.err.find("/    12 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("finish:        length"), std::string::npos) << r.err;
}

TEST_F(CliRun, OneImageBeforeTheText) {
  const CliResult ok = run_dsvl("run --model " + m + " --image " + dog +
                                " -p 'What is in the picture?' -n 4 --temp 0");
  expect_ok(ok);
  EXPECT_NE(ok.err.find("(576 image tokens)"), std::string::npos) << ok.err;
}

TEST_F(CliRun, TwoImagesInterleavedWhereTheMarkersAre) {
  const CliResult r = run_dsvl("run -m " + m + " --image " + dog + " --image " + logo +
                               " -p '<image> is Figure 1.\n<image_placeholder> is Figure 2.\nWhich "
                               "is brighter?' -n 4 --temp 0");
  expect_ok(r);
  EXPECT_NE(r.err.find("(1152 image tokens)"), std::string::npos) << r.err;
}

TEST_F(CliRun, HybridModelWithOneImage) {
  const std::string hybrid = tiny_model("7b-chat");
  ASSERT_FALSE(hybrid.empty());
  const CliResult r =
      run_dsvl("run -m " + hybrid + " --image " + dog + " -p 'Describe it.' -n 4 --temp 0");
  expect_ok(r);
  EXPECT_NE(r.err.find("(576 image tokens)"), std::string::npos) << r.err;
}

TEST_F(CliRun, RawSendsThePromptWithoutTheTemplate) {
  // BOS + 576 image tokens + "The": the chat template would add the system prompt and roles.
  const CliResult r =
      run_dsvl("run -m " + m + " --raw --image " + logo + " -p 'The' -n 3 --temp 0");
  expect_ok(r);
  EXPECT_NE(r.err.find("(576 image tokens)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/   578 tokens"), std::string::npos) << r.err;
}

// --temp 0 is greedy: the same answer twice. A stop string taken from the middle of that
// answer ends the next run right before it, and none of it is printed.
TEST_F(CliRun, GreedyIsDeterministicAndStopStringsCutCleanly) {
  const std::string cmd = "run -m " + m + " -p 'Tell me a story.' -n 24 --temp 0";
  const CliResult a = run_dsvl(cmd), b = run_dsvl(cmd);
  expect_ok(a);
  expect_ok(b);
  ASSERT_EQ(answer(a), answer(b));
  const std::string text = answer(a);
  ASSERT_GT(text.size(), 20u) << text;
  size_t k = text.size() / 2;
  while (k < text.size() && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) ++k;
  std::string stop = text.substr(k, 4);
  while (k + stop.size() < text.size() &&
         (static_cast<unsigned char>(text[k + stop.size()]) & 0xC0) == 0x80)
    stop += text[k + stop.size()];
  ASSERT_EQ(stop.find('\''), std::string::npos);
  const CliResult c = run_dsvl(cmd + " --stop '" + stop + "'");
  expect_ok(c);
  std::string want = text.substr(0, text.find(stop));
  EXPECT_EQ(answer(c), want) << "stop string \"" << stop << "\"";
  EXPECT_NE(c.err.find("finish:        stop (stop string)"), std::string::npos) << c.err;
}

TEST_F(CliRun, SameSeedSameSample) {
  const std::string cmd = "run -m " + m + " -p 'Tell me a story.' -n 16 --temp 1 --seed ";
  const CliResult a = run_dsvl(cmd + "7"), b = run_dsvl(cmd + "7"), c = run_dsvl(cmd + "8");
  expect_ok(a);
  expect_ok(b);
  expect_ok(c);
  EXPECT_EQ(answer(a), answer(b));
  EXPECT_NE(answer(a), answer(c));  // 16 tokens of a random model: a clash is astronomically rare
}

TEST_F(CliRun, StopsAtEndOfSequence) {
  const std::string eos = eos_model();
  ASSERT_FALSE(eos.empty());
  const CliResult r = run_dsvl("run -m " + eos + " -p 'Say something.' -n 50 --temp 1 --seed 3");
  expect_ok(r);
  EXPECT_EQ(answer(r), "");  // EOS is not printed
  EXPECT_NE(r.err.find("/     1 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("finish:        stop (end of sequence)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dsvl::test
