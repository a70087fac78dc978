// Fixtures for the end-to-end tests of `dsvl run` and `dsvl chat`: tiny random models in the
// released layout with the REAL DeepSeek tokenizer (from ../shared/tokenizers/deepseek_vl),
// built once per build of the dsvl binary and shared by every test process (gtest runs each
// test in its own process), plus a way to run the binary with stdout and stderr apart.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace dsvl::test {

// `dsvl synth --like <like> --tiny` with the real tokenizer ("1.3b-chat" or "7b-chat"), or
// "" when ../shared lacks the tokenizer (the caller skips).
std::string tiny_model(const std::string& like);

// A tiny 1.3b-chat whose every answer is EOS at once: the embeddings share a large constant
// component that the final norm keeps, and only the lm_head row of EOS reads it.
std::string eos_model();

// A conformance image by file name (../shared/conformance/images), or "".
std::string conformance_image(const std::string& name);

// The tiny 1.3b-chat (m) and two conformance images (dog_a.png, logo.png); skips the test
// when ../shared lacks them.
class TinyChatFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  std::string m, dog, logo;
};

struct CliResult {
  int rc = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `dsvl <args>` (args are passed to the shell as written) with stdin from /dev/null.
CliResult run_dsvl(const std::string& args);

// Whether s is well-formed UTF-8 (no stray continuation byte, no cut sequence, no overlong
// form or surrogate).
bool valid_utf8(const std::string& s);

}  // namespace dsvl::test
