#include "train/stages.h"

#include "core/error.h"
#include "train/weights.h"

namespace dsvl::train {

TrainableSet stage_trainable_set(int stage, const io::ModelConfig& cfg) {
  switch (stage) {
    case 1:
      return {{kAlignerPrefix}, {}};
    case 2:
      return {{kAlignerPrefix, kLlmPrefix}, {}};
    case 3:
      return {{kAlignerPrefix, kLlmPrefix, siglip_prefix(cfg)}, {siglip_unused_prefix(cfg)}};
    default:
      throw ConfigError("training stage " + std::to_string(stage) + " does not exist (1, 2 or 3)");
  }
}

TrainableSet parse_trainable_set(const std::string& spec, const io::ModelConfig& cfg) {
  if (spec == "stage1") return stage_trainable_set(1, cfg);
  if (spec == "stage2") return stage_trainable_set(2, cfg);
  if (spec == "stage3") return stage_trainable_set(3, cfg);
  TrainableSet s;
  size_t p = 0;
  while (p <= spec.size()) {
    const size_t q = std::min(spec.find(',', p), spec.size());
    if (q > p) s.prefixes.push_back(spec.substr(p, q - p));
    p = q + 1;
  }
  if (s.prefixes.empty()) throw RequestError("empty trainable set \"" + spec + "\"");
  s.excluded.push_back(siglip_unused_prefix(cfg));
  return s;
}

}  // namespace dsvl::train
