// Images prepared from files match the preprocess goldens the training kit was built from.
#include "train/image_input.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/shared.h"
#include "train/kit_case.h"

namespace dsvl::train {
namespace {

TEST(ImagePreparer, HybridFromFileMatchesKitInputs) {
  const std::string kit = test::shared_path("conformance");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance not found";
  TrainModel m(kit + "/models/tiny-hybrid-a");
  ImagePreparer prep(m);
  const ImageInput im = prep.from_file(kit + "/images/logo.png");
  ImageInput golden = load_preprocessed_image(kit + "/preprocess/logo__1024.safetensors", "logo");
  EXPECT_EQ(im.pixels.data, golden.pixels.data);  // bit-exact processor
  ASSERT_EQ(im.low_res.shape, golden.low_res.shape);
  double worst = 0;
  for (size_t i = 0; i < im.low_res.data.size(); ++i)
    worst = std::max(worst, double(std::fabs(im.low_res.data[i] - golden.low_res.data[i])));
  EXPECT_LE(worst, 1e-5);
  prep.complete(golden);  // SAM features of the golden pixels: the same tower, same input
  EXPECT_EQ(im.high_features.shape, (Shape{576, 48}));
  EXPECT_EQ(im.high_features.data, golden.high_features.data);
}

}  // namespace
}  // namespace dsvl::train
