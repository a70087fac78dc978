#include "train/image_input.h"

#include "core/error.h"

namespace dsvl::train {

ImageInput ImagePreparer::from_file(const std::string& path) {
  return from_rgb(image::decode_file(path), path);
}

ImageInput ImagePreparer::from_rgb(const image::RgbImage& img, const std::string& name) {
  const io::ImageProcessorConfig& ip = model_.config().image_processor;
  image::PreprocessConfig pc;
  pc.image_size = ip.image_size;
  pc.image_mean = ip.image_mean;
  pc.min_size = ip.min_size;
  pc.rescale_factor = ip.rescale_factor;
  image::PixelInputs px = image::make_pixel_inputs(img, pc);
  ImageInput im;
  im.name = name;
  im.pixels = Tensor({3, px.size, px.size});
  im.pixels.data = std::move(px.pixel_values);
  complete(im);
  return im;
}

void ImagePreparer::complete(ImageInput& im) {
  if (!model_.config().is_hybrid()) return;
  const int64_t S = im.pixels.shape.empty() ? 0 : im.pixels.shape.back();
  if (im.low_res.data.empty()) {
    const int lo = model_.config().vision.siglip.image_size;
    if (im.pixels.shape != Shape{3, S, S} || S == 0)
      throw ShapeError("image " + im.name + ": pixels " + shape_str(im.pixels.shape) +
                       ", expected [3, S, S]");
    im.low_res = Tensor({3, lo, lo});
    image::resize_bilinear_antialias(im.pixels.ptr(), int(S), im.low_res.ptr(), lo, 3);
  }
  if (im.high_features.data.empty()) {
    if (!sam_) sam_ = std::make_unique<FrozenSam>(model_.config(), model_.params().store());
    im.high_features = sam_->features(im.pixels);
  }
}

}  // namespace dsvl::train
