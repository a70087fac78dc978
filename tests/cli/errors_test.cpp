// Errors a user can act on: `dsvl run` / `dsvl chat` exit ≠ 0 with one line on stderr naming
// the problem, never a crash, a stack dump or an uncaught-exception message.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/cli_fixture.h"
#include "common/shared.h"

namespace dsvl::test {
namespace {
namespace fs = std::filesystem;

void expect_clean_error(const CliResult& r, const std::string& command, const std::string& what) {
  EXPECT_NE(r.rc, 0) << r.err;
  EXPECT_LT(r.rc, 128) << "killed by a signal: " << r.err;
  EXPECT_EQ(r.err.rfind("dsvl " + command + ": error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << "expected \"" << what << "\" in: " << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  for (const char* bad : {"terminate", "what()", "Aborted", "core dumped", "Segmentation"})
    EXPECT_EQ(r.err.find(bad), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    m = tiny_model("1.3b-chat");
    dog = conformance_image("dog_a.png");
    if (m.empty() || dog.empty())
      GTEST_SKIP() << "../shared/tokenizers/deepseek_vl or conformance/images missing";
  }
  std::string run(const std::string& rest) const { return "run -m " + m + " " + rest; }
  std::string m, dog;
};

TEST_F(CliErrors, MissingModelFolder) {
  expect_clean_error(run_dsvl("run -m /nonexistent/deepseek-vl -p hi"), "run",
                     "/nonexistent/deepseek-vl");
  expect_clean_error(run_dsvl("chat -m /nonexistent/deepseek-vl"), "chat",
                     "/nonexistent/deepseek-vl");
  expect_clean_error(run_dsvl("run -p hi"), "run", "--model");
}

// A download that stopped half way: each missing file is named.
TEST_F(CliErrors, MissingModelFile) {
  for (const std::string missing : {"model.safetensors", "tokenizer.json", "config.json"}) {
    const std::string dir = temp_dir("cli-partial");
    for (const auto& e : fs::directory_iterator(m))
      if (e.path().filename() != missing && e.path().filename() != "done")
        fs::create_symlink(e.path(), fs::path(dir) / e.path().filename());
    expect_clean_error(run_dsvl("run -m " + dir + " -p hi"), "run", missing);
  }
}

TEST_F(CliErrors, UnreadableImage) {
  expect_clean_error(run_dsvl(run("--image /nonexistent/cat.png -p hi")), "run",
                     "/nonexistent/cat.png");
  expect_clean_error(run_dsvl(run("--image " + m + "/config.json -p hi")), "run",
                     "config.json: not an image");
}

TEST_F(CliErrors, TooManyImagesForTheContext) {
  std::string images;
  for (int i = 0; i < 8; ++i) images += " --image " + dog;
  const CliResult r = run_dsvl(run(images + " -p 'Compare them.'"));
  expect_clean_error(r, "run", "8 images × 576 = 4608 image tokens");
  EXPECT_NE(r.err.find("more than the context of 4096 tokens"), std::string::npos);
  // One image does not fit a 600-token context either; the message says what would.
  const CliResult small = run_dsvl(run("--ctx 600 --image " + dog + " -p 'What is it?'"));
  expect_clean_error(small, "run", "1 image × 576 = 576 image tokens");
  EXPECT_NE(small.err.find("raise the context (--ctx"), std::string::npos) << small.err;
}

TEST_F(CliErrors, ImageCountMismatch) {
  expect_clean_error(run_dsvl(run("--image " + dog + " -p '<image> and <image>'")), "run",
                     "2 image marker(s) but 1 --image file(s)");
}

TEST_F(CliErrors, UnknownFlagAndBadNumbers) {
  expect_clean_error(run_dsvl(run("-p hi --bogus")), "run", "unknown flag --bogus");
  expect_clean_error(run_dsvl("chat -m " + m + " --bogus"), "chat", "unknown flag --bogus");
  expect_clean_error(run_dsvl(run("-p hi --temp warm")), "run", "--temp");
  expect_clean_error(run_dsvl(run("-p hi -n 12x")), "run", "-n");
  expect_clean_error(run_dsvl(run("-p hi -n 99999999999")), "run", "out of range");
  expect_clean_error(run_dsvl(run("-p hi --top-p 2")), "run", "--top-p");
  expect_clean_error(run_dsvl(run("-p hi --seed -1")), "run", "--seed");
  expect_clean_error(run_dsvl(run("-p hi --ctx 99999")), "run", "context size 99999");
  expect_clean_error(run_dsvl(run("-p")), "run", "needs a value");
  expect_clean_error(run_dsvl(run("hello")), "run", "unexpected argument \"hello\"");
  expect_clean_error(run_dsvl(run("--raw --system x -p hi")), "run", "--system");
}

// `-m` and `--model` are accepted by every command (CONTRACTS.md).
TEST_F(CliErrors, ShortAndLongModelFlagEverywhere) {
  for (const std::string cmd : {"run -p hi", "chat", "dump --ids 1 --out /tmp/x.safetensors"})
    for (const std::string flag : {"-m", "--model"}) {
      const CliResult r = run_dsvl(cmd + " " + flag + " /nonexistent/model");
      EXPECT_NE(r.rc, 0);
      EXPECT_NE(r.err.find("/nonexistent/model"), std::string::npos) << cmd << ": " << r.err;
    }
}

}  // namespace
}  // namespace dsvl::test
