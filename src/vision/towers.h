// The two VisionModel variants (built by VisionModel::load from vision_config.cls).
#pragma once

#include <memory>

#include "vision/vision.h"

namespace dsvl::vision {

// CLIPVisionTower (1.3B): SigLIP-L at 384 is the whole vision model.
std::unique_ptr<VisionModel> make_clip_tower(const io::ModelConfig& config,
                                             const io::WeightStore& store, kernels::Precision p,
                                             bool in_memory);
// HybridVisionTower (7B): SAM-B at 1024 (high) + SigLIP-L at 384 (low).
std::unique_ptr<VisionModel> make_hybrid_tower(const io::ModelConfig& config,
                                               const io::WeightStore& store, kernels::Precision p,
                                               bool in_memory);

}  // namespace dsvl::vision
