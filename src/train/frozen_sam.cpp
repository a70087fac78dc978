#include "train/frozen_sam.h"

#include "core/error.h"
#include "vision/sam/sam.h"

namespace dsvl::train {

struct FrozenSam::Impl {
  io::SamConfig cfg;
  vision::sam::Weights weights;
  vision::sam::Scratch scratch;
  Impl(const io::SamConfig& c, const io::WeightStore& store)
      : cfg(c),
        weights(
            vision::sam::bind_weights(c, store, "vision_model.vision_tower_high.vision_tower.")),
        scratch(c) {}
};

FrozenSam::FrozenSam(const io::ModelConfig& cfg, const io::WeightStore& store) {
  if (!cfg.is_hybrid() || !cfg.vision.sam)
    throw ConfigError(cfg.dir + ": the model has no SAM tower (not a hybrid vision model)");
  impl_ = std::make_unique<Impl>(*cfg.vision.sam, store);
}

FrozenSam::~FrozenSam() = default;

Tensor FrozenSam::features(const Tensor& pixels) {
  const int64_t S = impl_->cfg.image_size;
  if (pixels.shape != Shape{3, S, S})
    throw ShapeError("SAM input " + shape_str(pixels.shape) + ", expected " + shape_str({3, S, S}));
  const int64_t C = impl_->cfg.out_channels(), n = vision::sam::kOutSide * vision::sam::kOutSide;
  std::vector<float> nchw(size_t(C * n));
  vision::sam::forward(impl_->weights, impl_->cfg, pixels.ptr(), nchw.data(), impl_->scratch,
                       nullptr);
  Tensor out({n, C});  // NCHW [C, 24, 24] flattened to [576, C]
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < n; ++t) out.data[size_t(t * C + c)] = nchw[size_t(c * n + t)];
  return out;
}

}  // namespace dsvl::train
