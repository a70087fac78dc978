// The resource limits of the public Engine (LoadParams), each checked from both sides: just over
// the limit is refused with a LimitError saying what was exceeded, just under works. Plus the
// config → allocation audit: a huge size in config.json never turns into a huge allocation.
// Models are `dsvl synth --like 1.3b-chat --tiny` folders made in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/shared.h"
#include "dsvl/dsvl.h"
#include "image/test_encoders.h"
#include "io/synth.h"

namespace dsvl {
namespace {

namespace fs = std::filesystem;

// One tiny model per test binary run; tests that need a changed config copy it.
const std::string& tiny_model() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("limits") + "/tiny";
    io::SynthOptions o;
    o.like = "1.3b-chat";
    o.tiny = true;
    o.out_dir = d;
    io::synth_model(o);
    return d;
  }();
  return dir;
}

// A copy of the tiny model whose config.json language_config gets `changes`.
std::string tiny_model_with(const nlohmann::json& changes, const std::string& tag) {
  const std::string dir = test::temp_dir("limits-" + tag) + "/model";
  fs::copy(tiny_model(), dir, fs::copy_options::recursive);
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
  for (const auto& [k, v] : changes.items()) cfg["language_config"][k] = v;
  if (changes.contains("hidden_size"))  // config.json requires the aligner to match
    cfg["aligner_config"]["params"]["n_embed"] = changes["hidden_size"];
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  return dir;
}

std::unique_ptr<Engine> load(const LoadParams& base) {
  LoadParams p = base;
  if (p.model_dir.empty()) p.model_dir = tiny_model();
  p.n_threads = 2;
  return Engine::load(p);
}

Request ask(const std::string& text, int max_tokens, std::vector<ImageInput> images = {}) {
  Request r;
  r.messages.push_back({"user", text, std::move(images)});
  r.sampling.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

ImageInput png(int width, int height) {
  test::PngSpec s;
  s.width = width, s.height = height, s.color_type = 2;
  const std::vector<uint8_t> rgb = test::photo_like_rgb(width, height, 7);
  s.samples.assign(rgb.begin(), rgb.end());
  const std::vector<uint8_t> bytes = test::encode_png(s);
  return {"", std::string(bytes.begin(), bytes.end()), "test.png"};
}

// Expects `f` to throw a dsvl::Error of `kind` whose message contains `words`.
template <typename F>
void expect_error(ErrorKind kind, const std::string& words, F&& f) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning \"" << words << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.kind()), int(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(EngineLimits, MaxImagePixels) {
  LoadParams p;
  p.max_image_pixels = 20 * 10;
  auto engine = load(p);
  const Result ok = engine->generate(ask("What is it?", 1, {png(20, 10)}));
  EXPECT_NE(ok.finish_reason, "error") << ok.error;
  EXPECT_EQ(ok.usage.image_tokens, 576);
  expect_error(ErrorKind::kLimit, "pixels",
               [&] { engine->generate(ask("What?", 1, {png(21, 10)})); });
}

TEST(EngineLimits, MaxImagePixelsIsCheckedBeforeDecoding) {
  // A BMP header announcing 100000 x 100000 pixels and no pixel data: refused from the header
  // (a decoder that read on would say the file is truncated, or allocate 30 GB first).
  std::string bmp = "BM";
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) bmp.push_back(char(v >> (8 * i)));
  };
  auto u16 = [&](uint16_t v) { bmp.push_back(char(v)), bmp.push_back(char(v >> 8)); };
  u32(54), u32(0), u32(54), u32(40), u32(100000), u32(100000), u16(1), u16(24);
  for (int i = 0; i < 6; ++i) u32(0);
  auto engine = load({});
  expect_error(ErrorKind::kLimit, "100000x100000", [&] {
    engine->generate(ask("What?", 1, {{"", bmp, "huge.bmp"}}));
  });
}

TEST(EngineLimits, MaxImagesPerRequest) {
  LoadParams p;
  p.max_images = 2;
  auto engine = load(p);
  const Result ok = engine->generate(ask("Compare.", 1, {png(8, 8), png(9, 9)}));
  EXPECT_NE(ok.finish_reason, "error") << ok.error;
  EXPECT_EQ(ok.usage.image_tokens, 2 * 576);
  expect_error(ErrorKind::kLimit, "3 images, at most 2", [&] {
    engine->generate(ask("Compare.", 1, {png(8, 8), png(9, 9), png(10, 10)}));
  });
}

TEST(EngineLimits, ContextHoldsPromptPlusNewTokens) {
  const int n_new = 4;
  const int n_prompt = load({})->count_prompt_tokens(ask("Hello there", n_new));
  ASSERT_GT(n_prompt, 1);
  LoadParams fits;
  fits.ctx = n_prompt + n_new;
  const Result ok = load(fits)->generate(ask("Hello there", n_new));
  EXPECT_NE(ok.finish_reason, "error") << ok.error;
  EXPECT_EQ(ok.usage.prompt_tokens, n_prompt);
  EXPECT_LE(ok.usage.completion_tokens, n_new);
  LoadParams tight;
  tight.ctx = n_prompt + n_new - 1;
  auto engine = load(tight);
  expect_error(ErrorKind::kLimit, "more than the context of " + std::to_string(tight.ctx),
               [&] { engine->generate(ask("Hello there", n_new)); });
}

TEST(EngineLimits, MaxTokensCap) {
  LoadParams p;
  p.max_tokens_cap = 5;
  auto engine = load(p);
  const Result ok = engine->generate(ask("Count", 5));
  EXPECT_NE(ok.finish_reason, "error") << ok.error;
  EXPECT_LE(ok.usage.completion_tokens, 5);
  expect_error(ErrorKind::kLimit, "exceeds the cap of 5",
               [&] { engine->generate(ask("Count", 6)); });
}

// Runs `dsvl run` on `model` with memory capped well below what a runaway allocation would
// take: `ulimit -v` normally; under AddressSanitizer (which reserves terabytes of address
// space) its own cap on a single allocation instead.
int run_capped(const std::string& model, std::string* out) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr bool kAsan = true;
#elif defined(__has_feature)
  constexpr bool kAsan = __has_feature(address_sanitizer);
#else
  constexpr bool kAsan = false;
#endif
  const std::string cap =
      kAsan ? "ASAN_OPTIONS=max_allocation_size_mb=512:detect_leaks=0 " : "ulimit -v 1500000; ";
  return test::run_command(
      cap + test::dsvl_binary() + " run -m " + model + " -p hi -n 1 --temp 0 --threads 2 2>&1",
      out);
}

TEST(EngineLimits, HugeHiddenSizeFailsAtWeightBinding) {
  // A config claiming a 1M-wide model on a 128-wide checkpoint: the first tensor whose shape
  // disagrees stops the load, before any activation is sized from the config.
  const std::string dir = tiny_model_with({{"hidden_size", 1 << 20}}, "hidden");
  LoadParams p;
  p.model_dir = dir;
  expect_error(ErrorKind::kShape, "expected", [&] { load(p); });
  std::string out;
  EXPECT_NE(run_capped(dir, &out), 0);
  EXPECT_NE(out.find("expected ["), std::string::npos) << out;
}

TEST(EngineLimits, HugeMaxPositionEmbeddingsIsNotTabulated) {
  // 16M positions would be a 2 GB RoPE table for this model; only the context is tabulated.
  const std::string dir = tiny_model_with({{"max_position_embeddings", 1 << 24}}, "positions");
  LoadParams p;
  p.model_dir = dir;
  auto engine = load(p);
  EXPECT_EQ(engine->info().max_position_embeddings, 1 << 24);
  EXPECT_EQ(engine->info().ctx, 4096);
  std::string out;
  EXPECT_EQ(run_capped(dir, &out), 0) << out;
}

}  // namespace
}  // namespace dsvl
