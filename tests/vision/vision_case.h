// Conformance-kit access for the vision and aligner tests: a case's model, its n images as
// processor output (pixels [n, 3, S, S] and, for the hybrid, low_res [n, 3, 384, 384]), and
// the golden tensors; plus the golden comparison with the kit's float32 tolerance.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"

namespace dsvl::test {

struct VisionCase {
  std::string name;
  std::string model_dir;
  std::vector<std::string> images;  // file names under conformance/images
  int n = 0;
  int image_size = 0;          // S
  std::vector<float> pixels;   // [n, 3, S, S] in [0, 1]
  std::vector<float> low_res;  // hybrid: [n, 3, 384, 384]; empty otherwise
  std::shared_ptr<io::WeightStore> golden;
};

// Names of every case in conformance/cases/*.json that has images (sorted); empty if the kit
// is missing.
std::vector<std::string> vision_case_names();

// Where a case's pixels come from: our own image pipeline on the case's image files
// (image::decode_file → make_pixel_inputs → resized_pixel_values), or the kit's preprocess
// goldens (pixel_values_u8 · factor, low_res_input) to tell tower bugs from processor bugs.
enum class PixelSource { kOurPreprocessing, kGoldenPixels };

// Loads a case; std::nullopt if the kit is missing.
std::optional<VisionCase> load_vision_case(const std::string& name,
                                           PixelSource source = PixelSource::kOurPreprocessing);

// The kit's float32 check: max|got − golden| <= rel_tol·max|golden| and equal shapes. On
// failure: tensor name, max abs / rel error, first bad index.
::testing::AssertionResult matches_golden(const Tensor& got, const TensorView& golden,
                                          const std::string& name, double rel_tol = 1e-4);

}  // namespace dsvl::test
