// THE table of checkpoint tensors: every key a ModelConfig implies, with its shape, in the
// state_dict order of the official MultiModalityCausalLM (the order of ../shared/spec/keys-*.txt).
// Model code never spells a key string except through the prefixes documented here; loaders
// check a WeightStore against this table once (check_weights) and then bind by name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"

namespace dsvl::io {

// Component names, also used by `dsvl info`.
inline constexpr const char* kCompVisionHigh = "vision.high";  // SAM-B branch (7B layout)
inline constexpr const char* kCompVisionLow = "vision.low";    // SigLIP branch (7B layout)
inline constexpr const char* kCompVision = "vision";           // SigLIP-only tower (1.3B layout)
inline constexpr const char* kCompAligner = "aligner";
inline constexpr const char* kCompLlm = "llm";

// Key prefixes of the towers, for model code that binds blocks by index.
inline constexpr const char* kSamPrefix = "vision_model.vision_tower_high.vision_tower.";
inline constexpr const char* kSiglipLowPrefix = "vision_model.vision_tower_low.vision_tower.";
inline constexpr const char* kSiglipOnlyPrefix = "vision_model.vision_tower.";
inline constexpr const char* kLlmPrefix = "language_model.";

struct KeySpec {
  std::string name;
  Shape shape;
  std::string component;  // one of the kComp* names
  // false for tensors present in the released checkpoints but never used by the forward
  // pass: SigLIP's attn_pool.*, vision_model.high_layer_norm / low_layer_norm.
  bool used = true;
};

// Every tensor of the checkpoint `cfg` describes, in official state_dict order. With
// include_unused = false the unused ones are left out.
std::vector<KeySpec> model_keys(const ModelConfig& cfg, bool include_unused = true);

// Prefix of the SigLIP tower's keys for this layout (kSiglipLowPrefix or kSiglipOnlyPrefix).
std::string siglip_prefix(const ModelConfig& cfg);

// Parameter totals of a key table.
struct ParamCounts {
  std::map<std::string, int64_t> used_by_component;  // component -> used parameters
  int64_t used = 0;
  int64_t unused = 0;
  int64_t total() const { return used + unused; }
};
ParamCounts count_params(const std::vector<KeySpec>& keys);

// What check_weights found besides the required tensors.
struct BindReport {
  int n_used = 0;                            // required tensors, all present with the right shape
  int n_unused_present = 0;                  // attn_pool / high/low_layer_norm found (ignored)
  std::vector<std::string> unknown;          // keys the table does not know (ignored)
  std::map<DType, int64_t> params_by_dtype;  // over the required tensors
};

// Verifies that `ws` holds every used tensor of `cfg` with exactly the expected shape and a
// float dtype (F32, F16 or BF16; mixed dtypes are fine). Unused and unknown tensors are
// ignored. Throws IoError for a missing tensor ("<dir>: missing tensor "k" (expected shape
// [..])"), ShapeError for a wrong shape or dtype ("<file>: k: shape [..], expected [..] ...").
BindReport check_weights(const WeightStore& ws, const ModelConfig& cfg);

}  // namespace dsvl::io
