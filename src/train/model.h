// A DeepSeek-VL model set up for training: the checkpoint as Params, the layer structs bound
// to them, and one forward + backward over a batch of rows (vision towers → aligner →
// embedding merge → LLM → next-token loss). SAM (the hybrid's high-resolution tower) is
// frozen in every stage of the paper, so its features come precomputed with each image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/config.h"
#include "train/aligner.h"
#include "train/llm.h"
#include "train/param.h"
#include "train/siglip.h"

namespace dsvl::train {

constexpr int64_t kIgnoreIndex = -100;
constexpr int64_t kImageTokens = 576;

struct ImageInput {
  std::string name;      // for messages
  Tensor pixels;         // [3, S, S] processor output in [0, 1] (SigLIP-only models use it)
  Tensor low_res;        // hybrid: [3, 384, 384] 384-resize of pixels, before normalisation
  Tensor high_features;  // hybrid: frozen SAM tower output as [576, C_sam] (token-major)
};

// One batch row: expanded ids (576 image ids per image), labels (−100: no loss; shifted
// inside the loss as in HF) and the row's images in order.
struct Row {
  std::vector<int64_t> ids;
  std::vector<int64_t> labels;
  std::vector<const ImageInput*> images;
};

struct StepResult {
  double nll_sum = 0;  // Σ over loss tokens of −log p
  int64_t n_loss = 0;  // number of loss tokens
  double loss() const { return n_loss ? nll_sum / double(n_loss) : 0.0; }
  std::vector<std::vector<float>> token_nll;  // per row, length len−1, 0 where no label
  std::vector<float> d_embeds;                // packed [Σ len, hidden]: dL/d(inputs_embeds)
  std::vector<float> d_vision;  // [n_images·576, C_siglip]: dL/d(SigLIP output), stage 3
};

// Number of loss tokens of a batch (labels[t+1] != −100): with gradient accumulation over
// micro-batches, pass grad_scale = 1 / (Σ over the micro-batches of this) to every
// forward_backward so the accumulated gradient is that of the whole batch's mean loss.
int64_t count_loss_tokens(const std::vector<Row>& rows);

class TrainModel {
 public:
  // Loads config and weights of a model folder (weights stay mmapped).
  explicit TrainModel(const std::string& dir);
  // A model built in memory (benchmarks): params must hold every key of `cfg`.
  TrainModel(io::ModelConfig cfg, ParamSet params);

  const io::ModelConfig& config() const { return cfg_; }
  ParamSet& params() { return params_; }

  // Id of the image token (the expanded placeholder): 100015 in the released tokenizer.
  void set_image_token_id(int64_t id) { image_token_id_ = id; }
  int64_t image_token_id() const { return image_token_id_; }

  // Selects the trainable tensors (see stages.h) and rebinds the layers.
  void set_trainable(const std::vector<std::string>& prefixes,
                     const std::vector<std::string>& excluded = {});
  // Rebinds after the caller changed params (e.g. loaded an optimizer checkpoint).
  void rebind();

  // Forward and backward: gradients are ADDED to the trainable params' grad buffers for the
  // loss grad_scale·Σ nll (grad_scale ≤ 0: 1/n_loss, the batch mean of HF).
  StepResult forward_backward(const std::vector<Row>& rows, double grad_scale = 0);
  // Forward only (evaluation, MC-PPL): nll_sum, n_loss and token_nll.
  StepResult forward(const std::vector<Row>& rows);

 private:
  // Vision features of the batch's images and their aligner output (the LLM's image rows).
  struct ImageFeatures {
    std::vector<float> high, low, emb;  // SAM [n·576, C_sam], SigLIP [n·576, C], [n·576, D]
  };
  void encode_images(const std::vector<const ImageInput*>& images, bool siglip_grad,
                     ImageFeatures& f);
  StepResult run(const std::vector<Row>& rows, bool backward, double grad_scale);
  bool siglip_trainable() const;

  io::ModelConfig cfg_;
  int64_t image_token_id_ = 100015;
  ParamSet params_;
  LlmRef<float> llm_;
  AlignerRef<float> aligner_;
  SiglipRef<float> siglip_;
  // Activations and scratch, kept between steps (allocated once for a given batch shape).
  SiglipActs<float> siglip_acts_;
  AlignerActs<float> aligner_acts_;
  LlmActs<float> llm_acts_;
  LlmGrads<float> llm_grads_;
};

}  // namespace dsvl::train
