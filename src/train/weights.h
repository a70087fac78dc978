// The key → layer-field table of the training path: binds the float32 layer structs
// (LlmRef, AlignerRef, SiglipRef) to the Params of a checkpoint, checking every shape. Bind
// after ParamSet::set_trainable (trainable layers then read the master copy and write
// gradients; frozen ones read the stored tensor and skip dW).
#pragma once

#include <string>

#include "io/config.h"
#include "train/aligner.h"
#include "train/llm.h"
#include "train/param.h"
#include "train/siglip.h"

namespace dsvl::train {

// Checkpoint key prefixes of the towers and the modules.
inline const char* kLlmPrefix = "language_model.";
inline const char* kAlignerPrefix = "aligner.";
// SigLIP tower prefix: vision_model.vision_tower_low.vision_tower. (hybrid) or
// vision_model.vision_tower. (SigLIP-only).
std::string siglip_prefix(const io::ModelConfig& cfg);
// Tensors of the SigLIP tower that the official forward never uses (no gradient path).
std::string siglip_unused_prefix(const io::ModelConfig& cfg);

LlmRef<float> bind_llm(ParamSet& ps, const io::LlmConfig& c);
AlignerRef<float> bind_aligner(ParamSet& ps, const io::ModelConfig& cfg);
SiglipRef<float> bind_siglip(ParamSet& ps, const io::ModelConfig& cfg);

}  // namespace dsvl::train
