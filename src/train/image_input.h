// Training inputs of one image, built the official way: decode (Pillow semantics), the
// VLMImageProcessor square, for the hybrid model the antialiased 384 resize of SigLIP's input
// and the frozen SAM features (computed once here and kept with the image for every step).
#pragma once

#include <string>

#include "image/image.h"
#include "train/frozen_sam.h"
#include "train/model.h"

namespace dsvl::train {

// Caches the frozen SAM tower of a hybrid model (bound once).
class ImagePreparer {
 public:
  explicit ImagePreparer(TrainModel& model) : model_(model) {}
  ImageInput from_file(const std::string& path);
  ImageInput from_rgb(const image::RgbImage& img, const std::string& name);
  // Fills what `im` lacks from im.pixels: low_res (hybrid) and high_features (hybrid).
  void complete(ImageInput& im);

 private:
  TrainModel& model_;
  std::unique_ptr<FrozenSam> sam_;
};

}  // namespace dsvl::train
