// The paper's three training stages as named trainable sets, plus custom prefix lists.
//   stage 1: aligner only (vision towers and LLM frozen)
//   stage 2: aligner + whole LLM (vision frozen)
//   stage 3: SigLIP (low-res tower; attn_pool excluded, the forward never uses it) + aligner
//            + LLM; SAM-B stays frozen
#pragma once

#include <string>
#include <vector>

#include "io/config.h"

namespace dsvl::train {

struct TrainableSet {
  std::vector<std::string> prefixes;
  std::vector<std::string> excluded;
};

// stage ∈ {1, 2, 3}; ConfigError otherwise.
TrainableSet stage_trainable_set(int stage, const io::ModelConfig& cfg);
// "stage1" / "stage2" / "stage3", or a comma-separated prefix list ("aligner.,language_model.").
TrainableSet parse_trainable_set(const std::string& spec, const io::ModelConfig& cfg);

}  // namespace dsvl::train
