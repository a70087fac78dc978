// A loaded DeepSeek-VL model: config, mmapped weights, tokenizer (if the folder has one),
// vision tower, aligner and language model, plus the image path from file bytes to image
// embeddings. Immutable after load; shared by the engine, `dump`, `bench` and training.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aligner/aligner.h"
#include "core/tensor.h"
#include "dsvl/dsvl.h"
#include "image/image.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "llm/llm.h"
#include "tokenizer/tokenizer.h"
#include "vision/vision.h"

namespace dsvl::runtime {

// An image after the processor (spec §4): the padded square and the tower inputs.
struct PreparedImage {
  image::PixelInputs px;       // u8 + pixel_values [3, S, S] in [0, 1]
  std::vector<float> low_res;  // hybrid only: [3, 384, 384] antialiased downscale, in [0, 1]
};

struct PipelineOptions {
  bool load_tokenizer = true;         // kits have none: `dump` passes false
  image::DecodeLimits decode_limits;  // max pixels per image
  int64_t max_positions = 0;          // > 0: the context the caller will use (Llm::load)
  // GEMM precision of every model part (resolve_precision). Auto, as LoadParams: bf16 for
  // F16/BF16 checkpoints. `dump` and the conformance checks ask for kF32.
  Precision precision = Precision::kAuto;
  // bf16 path only: copy BF16 matrices into huge-page memory instead of using them mapped
  // (LoadParams::no_mmap, `--no-mmap`).
  bool no_mmap = false;
  // Keep the LLM's matrices in their stored layout instead of repacking them into the GEMMs'
  // panels at load (bf16 path: all of them; f32 path: BF16 ones) (LoadParams::no_repack,
  // `--no-repack`).
  bool no_repack = false;
};

// kAuto → kBF16 when the LLM weights (language_model.lm_head.weight) are F16 or BF16, kF32
// when they are F32; kF32 / kBF16 as asked.
kernels::Precision resolve_precision(Precision requested, const io::WeightStore& store);

class Pipeline {
 public:
  // Throws IoError / ConfigError / ShapeError naming the file and tensor on a broken folder.
  static std::unique_ptr<Pipeline> load(const std::string& dir, const PipelineOptions& opts = {});

  const io::ModelConfig& config() const { return config_; }
  const io::WeightStore& store() const { return store_; }
  const llm::Llm& llm() const { return *llm_; }
  const vision::VisionModel& vision() const { return *vision_; }
  const aligner::Aligner& aligner() const { return *aligner_; }
  bool has_tokenizer() const { return tokenizer_.has_value(); }
  // ConfigError if the folder has no tokenizer.json.
  const tokenizer::Tokenizer& tokenizer() const;
  // Id of <image_placeholder> in the tokenizer (100015 for the released models).
  int32_t image_token_id() const;
  int32_t eos_id() const;
  int image_tokens() const { return config_.chat.num_image_tokens; }
  // The precision every GEMM of the vision towers, aligner and LLM runs at.
  kernels::Precision precision() const { return llm_->precision(); }
  // Bytes of weight copies the models own: bf16 conversions of F16/F32 matrices on the bf16
  // path (never a float32 copy); 0 when every weight is used from the mmapped files.
  int64_t owned_weight_bytes() const;

  // Decode (file or bytes) and preprocess. Errors name the image.
  PreparedImage prepare_file(const std::string& path) const;
  PreparedImage prepare_bytes(const std::string& bytes, const std::string& name) const;
  PreparedImage prepare(const image::RgbImage& img) const;

  // Vision towers + aligner for n prepared images → [n, 576, hidden]. `features` and
  // `debug` receive the tower outputs and the first image's intermediates when given.
  Tensor encode_images(const std::vector<const PreparedImage*>& images,
                       vision::VisionFeatures* features = nullptr,
                       vision::DebugTaps* debug = nullptr) const;

 private:
  io::ModelConfig config_;
  io::WeightStore store_;
  std::optional<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<vision::VisionModel> vision_;
  std::unique_ptr<aligner::Aligner> aligner_;
  std::unique_ptr<llm::Llm> llm_;
  image::DecodeLimits limits_;
};

}  // namespace dsvl::runtime
