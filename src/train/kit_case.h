// Runs one case of the training conformance kit (../shared/conformance-train, README there):
// builds the batch from the case JSON (ids, images, labels rule, trainable set), runs the
// stage's forward + backward, the AdamW steps or the MC-PPL scoring, and returns the output
// tensors named as in the kit README. Used by `dsvl train-step` and the tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "train/model.h"

namespace dsvl::train {

// Frozen SAM features of an image as [576, C] (token-major), for hybrid models.
using SamFeatureFn = std::function<Tensor(const std::string& model_dir, const ImageInput&)>;

struct KitCaseOptions {
  // Source of frozen SAM features; unset: the model's own SAM tower (FrozenSam).
  SamFeatureFn sam_features;
  // When set, the model after the case (after the updates of an adamw case) is saved there as
  // a model folder in the released layout (checkpoint.h).
  std::string save_model_dir;
  std::string save_dtype = "bf16";
};

// The batch of a stage / adamw case (images preprocessed, SAM features computed), for
// tests and tools that drive the model themselves.
struct KitBatch {
  std::string model_dir;
  int64_t image_token_id = 0;
  std::vector<std::unique_ptr<ImageInput>> images;
  std::vector<Row> rows;
};
KitBatch load_kit_batch(const std::string& case_json);

// Tensors to write for the case at `case_json` (paths resolved relative to the kit folder,
// the case file's parent's parent).
std::vector<io::OwnedTensor> run_kit_case(const std::string& case_json,
                                          const KitCaseOptions& opt = {});

// Reads a preprocess golden of the inference kit into an ImageInput: pixel_values =
// float32(float64(u8)·0.00392156862745098), low_res = low_res_input when present.
ImageInput load_preprocessed_image(const std::string& path, const std::string& name);

}  // namespace dsvl::train
