#include "vision/vision.h"

#include "core/error.h"
#include "vision/siglip/siglip.h"
#include "vision/towers.h"

namespace dsvl::vision {
namespace {

// Key prefix of the 1.3B tower (spec §2.1).
constexpr const char* kClipPrefix = "vision_model.vision_tower.";

class ClipTower final : public VisionModel {
 public:
  ClipTower(const io::ModelConfig& config, const io::WeightStore& store, kernels::Precision p,
            bool in_memory)
      : VisionModel(p, in_memory),
        cfg_(config.vision.siglip),
        w_(siglip::bind_weights(cfg_, store, kClipPrefix, &arena_)) {}

  VisionFeatures encode(const float* pixels, const float* low_res, int n,
                        DebugTaps* debug) const override {
    if (n < 1)
      throw RequestError("vision: encode needs at least one image, got " + std::to_string(n));
    if (low_res) throw RequestError("vision: the SigLIP-only tower takes no low-resolution input");
    const int64_t S = cfg_.image_size, T = cfg_.n_tokens(), C = cfg_.width;
    VisionFeatures f;
    f.out = Tensor({n, T, C});
    f.siglip_time = timed([&] {
      siglip::Scratch s(cfg_);
      for (int i = 0; i < n; ++i)
        siglip::forward(w_, cfg_, pixels + i * 3 * S * S, f.out.ptr() + i * T * C, s,
                        i == 0 ? debug : nullptr);
    });
    return f;
  }

  int image_size() const override { return cfg_.image_size; }
  int low_res_size() const override { return 0; }
  int tokens_per_image() const override { return cfg_.n_tokens(); }
  int width() const override { return cfg_.width; }

 private:
  io::SiglipConfig cfg_;
  siglip::Weights w_;
};

}  // namespace

std::unique_ptr<VisionModel> make_clip_tower(const io::ModelConfig& config,
                                             const io::WeightStore& store, kernels::Precision p,
                                             bool in_memory) {
  return std::make_unique<ClipTower>(config, store, p, in_memory);
}

std::unique_ptr<VisionModel> VisionModel::load(const io::ModelConfig& config,
                                               const io::WeightStore& store,
                                               kernels::Precision precision, bool in_memory) {
  switch (config.vision.kind) {
    case io::VisionKind::kSiglip:
      return make_clip_tower(config, store, precision, in_memory);
    case io::VisionKind::kHybrid:
      return make_hybrid_tower(config, store, precision, in_memory);
  }
  throw ConfigError("vision: unknown vision tower kind");
}

}  // namespace dsvl::vision
