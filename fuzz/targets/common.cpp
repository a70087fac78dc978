#include "fuzz/targets/common.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "fuzz/targets/targets.h"
#include "io/synth.h"

namespace dsvl::fuzz {
namespace fs = std::filesystem;

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"safetensors", safetensors, "safetensors"},
      {"config", config, "config"},
      {"tokenizer_json", tokenizer_json, "tokenizer_json"},
      {"tokenizer_encode", tokenizer_encode, "tokenizer_encode"},
      {"image_png", image_png, "image"},
      {"image_jpeg", image_jpeg, "image"},
      {"image_webp", image_webp, "image"},
      {"image_gif", image_gif, "image"},
      {"image_bmp", image_bmp, "image"},
      {"chat_template", chat_template, "chat_template"},
      {"server_request", server_request, "server_request"},
  };
  return all;
}

const Target* find_target(std::string_view name) {
  for (const Target& t : targets())
    if (name == t.name) return &t;
  return nullptr;
}

const tokenizer::Tokenizer& small_tokenizer() {
  static const tokenizer::Tokenizer tok = [] {
    const io::TokenizerFiles f = io::build_small_tokenizer();
    return tokenizer::Tokenizer::from_json(f.tokenizer_json, f.tokenizer_config_json);
  }();
  return tok;
}

const tokenizer::Tokenizer* real_tokenizer() {
  static const std::optional<tokenizer::Tokenizer> tok =
      []() -> std::optional<tokenizer::Tokenizer> {
    const char* dir = std::getenv("DSVL_FUZZ_TOKENIZER");
    if (!dir || !*dir) return std::nullopt;
    return tokenizer::Tokenizer::load(dir);
  }();
  return tok ? &*tok : nullptr;
}

namespace {

// The tiny model's folder, removed at exit.
struct TinyModel {
  std::string dir;
  std::unique_ptr<runtime::Pipeline> pipe;
  TinyModel() {
    dir = (fs::temp_directory_path() / ("dsvl-fuzz-model-" + std::to_string(getpid()))).string();
    io::SynthOptions o;
    o.like = "1.3b-chat";
    o.tiny = true;
    o.out_dir = dir;
    io::synth_model(o);
    pipe = runtime::Pipeline::load(dir);
  }
  ~TinyModel() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

const runtime::Pipeline& tiny_pipeline() {
  static const TinyModel model;
  return *model.pipe;
}

void fuzz_decoder(std::string_view input, const std::string& name, DecodeFn decode) {
  expect_clean([&] {
    image::DecodeLimits limits;
    limits.max_pixels = 1'000'000;
    const image::detail::Source src{reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                                    name, limits};
    check_decoded(decode(src));
  });
}

void check_decoded(const image::RgbImage& img) {
  if (img.width < 1 || img.height < 1 || img.rgb.size() != size_t(img.width) * img.height * 3)
    throw std::logic_error("decoded image with an inconsistent size");
  if (int64_t(img.width) * img.height > (1 << 16)) return;
  // The processor at a small size: the same resize and padding code paths as at 384 (or
  // 1024), without spending each execution on a 384 x 384 bicubic upscale.
  image::PreprocessConfig pc;
  pc.image_size = 40;
  pc.image_mean = image::kSiglipMean;
  (void)image::make_pixel_inputs(img, pc);
}

std::vector<std::string_view> split(std::string_view input, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t p = input.find(sep);
    out.push_back(input.substr(0, p));
    if (p == std::string_view::npos) return out;
    input.remove_prefix(p + 1);
  }
}

}  // namespace dsvl::fuzz
