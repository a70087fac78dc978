// The hybrid model's SAM-B tower as the training path uses it: frozen in every stage of the
// paper, so it runs forward-only (vision/sam), once per image, and its features are kept
// with the image (ImageInput::high_features) for every later step.
#pragma once

#include <memory>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"

namespace dsvl::train {

class FrozenSam {
 public:
  // Binds the SAM tensors of a hybrid checkpoint (ConfigError for a SigLIP-only model).
  FrozenSam(const io::ModelConfig& cfg, const io::WeightStore& store);
  ~FrozenSam();
  // pixels [3, 1024, 1024] in [0, 1] → features [576, C] (token-major: the aligner's input).
  Tensor features(const Tensor& pixels);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsvl::train
