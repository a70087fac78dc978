// `dsvl dump`: runs the whole model in float32 on prompt ids and image files and writes
// every stage as named tensors, exactly as the conformance kit stores its goldens
// (../shared/conformance/README.md, "Tensors in cases/..."), plus the processor outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dsvl::runtime {

struct DumpParams {
  std::string model_dir;
  std::vector<int32_t> ids;               // prompt ids before expansion, one image id per image
  std::vector<std::string> images;        // image files, in placeholder order
  std::optional<int32_t> image_token_id;  // default: the tokenizer's <image_placeholder>
  int steps = 16;                         // greedy steps (not stopping at EOS)
  bool debug = false;                     // sam.* / siglip.* intermediates of the first image
  std::string out;                        // .safetensors path
};

// Throws dsvl::Error for a bad folder, image, id list or output path.
void dump(const DumpParams& params);

}  // namespace dsvl::runtime
