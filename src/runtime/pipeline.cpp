#include "runtime/pipeline.h"

#include <filesystem>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/cpu/weight_arena.h"
#include "runtime/generate.h"

namespace dsvl::runtime {
namespace fs = std::filesystem;

kernels::Precision resolve_precision(Precision requested, const io::WeightStore& store) {
  switch (requested) {
    case Precision::kF32:
      return kernels::Precision::kF32;
    case Precision::kBF16:
      return kernels::Precision::kBF16;
    case Precision::kAuto:
      break;
  }
  // The released checkpoints are F16 and the official inference casts them to bf16.
  const DType t = store.get("language_model.lm_head.weight").dtype;
  return t == DType::kF16 || t == DType::kBF16 ? kernels::Precision::kBF16
                                               : kernels::Precision::kF32;
}

std::unique_ptr<Pipeline> Pipeline::load(const std::string& dir, const PipelineOptions& opts) {
  auto p = std::unique_ptr<Pipeline>(new Pipeline());
  p->config_ = io::load_model_config(dir);
  p->store_ = io::WeightStore::open(dir);
  p->limits_ = opts.decode_limits;
  std::error_code ec;
  if (opts.load_tokenizer && fs::exists(fs::path(dir) / "tokenizer.json", ec))
    p->tokenizer_ = tokenizer::Tokenizer::load(dir);
  const kernels::Precision prec = resolve_precision(opts.precision, p->store_);
  // Weights used in place (everything on the f32 path, BF16 checkpoints on the bf16 path unless
  // copied): read the files in order now, so a cold file lands in 2 MB pages. Converted
  // checkpoints (F16 → bf16) are read once by the conversion instead.
  if (kernels::WeightArena::keeps_as_stored(
          prec, p->store_.get("language_model.lm_head.weight").dtype, opts.no_mmap))
    p->store_.prefault();
  p->vision_ = vision::VisionModel::load(p->config_, p->store_, prec, opts.no_mmap);
  p->aligner_ = aligner::Aligner::load(p->config_, p->store_, prec, opts.no_mmap);
  p->llm_ = llm::Llm::load(p->config_, p->store_, opts.max_positions, prec, opts.no_mmap,
                           !opts.no_repack);
  if (p->tokenizer_ && int64_t(p->tokenizer_->vocab_size()) > p->config_.llm.vocab_size)
    throw ConfigError(dir + ": tokenizer has " + std::to_string(p->tokenizer_->vocab_size()) +
                      " ids but the model embeds only " +
                      std::to_string(p->config_.llm.vocab_size));
  return p;
}

int64_t Pipeline::owned_weight_bytes() const {
  return vision_->owned_weight_bytes() + aligner_->owned_weight_bytes() +
         llm_->owned_weight_bytes();
}

const tokenizer::Tokenizer& Pipeline::tokenizer() const {
  if (!tokenizer_) throw ConfigError(config_.dir + ": no tokenizer.json in the model folder");
  return *tokenizer_;
}

int32_t Pipeline::image_token_id() const {
  auto id = tokenizer().token_id(config_.chat.image_tag);
  if (!id)
    throw ConfigError(config_.dir + ": the tokenizer has no " + config_.chat.image_tag + " token");
  return *id;
}

int32_t Pipeline::eos_id() const {
  const int32_t e = tokenizer_ ? tokenizer_->eos_id() : -1;
  return e >= 0 ? e : kDefaultEos;
}

PreparedImage Pipeline::prepare(const image::RgbImage& img) const {
  image::PreprocessConfig pc;
  pc.image_size = config_.image_processor.image_size;
  pc.image_mean = config_.image_processor.image_mean;
  pc.min_size = config_.image_processor.min_size;
  pc.rescale_factor = config_.image_processor.rescale_factor;
  PreparedImage out;
  out.px = image::make_pixel_inputs(img, pc);
  if (vision_->low_res_size() > 0)
    out.low_res = image::resized_pixel_values(out.px, vision_->low_res_size());
  return out;
}

PreparedImage Pipeline::prepare_file(const std::string& path) const {
  return prepare(image::decode_file(path, limits_));
}

PreparedImage Pipeline::prepare_bytes(const std::string& bytes, const std::string& name) const {
  return prepare(image::decode_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                      name, limits_));
}

Tensor Pipeline::encode_images(const std::vector<const PreparedImage*>& images,
                               vision::VisionFeatures* features, vision::DebugTaps* debug) const {
  const int n = int(images.size());
  if (n == 0) return Tensor({0, int64_t(image_tokens()), config_.llm.hidden_size});
  const int S = vision_->image_size();
  const size_t plane = size_t(3) * S * S;
  std::vector<float> pixels(plane * n);
  const int L = vision_->low_res_size();
  const size_t low_plane = size_t(3) * L * L;
  std::vector<float> low(low_plane * n);
  for (int i = 0; i < n; ++i) {
    const PreparedImage& im = *images[size_t(i)];
    if (im.px.pixel_values.size() != plane)
      throw ShapeError("image " + std::to_string(i) + ": wrong processed size");
    std::copy(im.px.pixel_values.begin(), im.px.pixel_values.end(),
              pixels.begin() + ptrdiff_t(plane * i));
    if (L > 0)
      std::copy(im.low_res.begin(), im.low_res.end(), low.begin() + ptrdiff_t(low_plane * i));
  }
  vision::VisionFeatures f = vision_->encode(pixels.data(), L > 0 ? low.data() : nullptr, n, debug);
  Tensor out = aligner_->forward(f, n);
  if (features) *features = std::move(f);
  return out;
}

}  // namespace dsvl::runtime
