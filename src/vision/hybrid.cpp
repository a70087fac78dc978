// HybridVisionTower (7B, spec §3.2): SAM-B on the 1024 image (CLIP mean/std) and SigLIP-L on
// its antialiased 384 downscale (mean/std 0.5), returned as a tuple; high_layer_norm and
// low_layer_norm exist in the checkpoint but are never applied (spec §8.3) and never bound.
#include <vector>

#include "core/error.h"
#include "image/image.h"
#include "vision/sam/sam.h"
#include "vision/siglip/siglip.h"
#include "vision/towers.h"

namespace dsvl::vision {
namespace {

// Key prefixes of the two towers (spec §2.1).
constexpr const char* kHighPrefix = "vision_model.vision_tower_high.vision_tower.";
constexpr const char* kLowPrefix = "vision_model.vision_tower_low.vision_tower.";

class HybridTower final : public VisionModel {
 public:
  HybridTower(const io::ModelConfig& config, const io::WeightStore& store, kernels::Precision p,
              bool in_memory)
      : VisionModel(p, in_memory),
        sam_cfg_(*config.vision.sam),
        siglip_cfg_(config.vision.siglip),
        sam_(sam::bind_weights(sam_cfg_, store, kHighPrefix, &arena_)),
        siglip_(siglip::bind_weights(siglip_cfg_, store, kLowPrefix, &arena_)) {
    if (sam_cfg_.downsample_channels[1] != siglip_cfg_.width)
      throw ConfigError("vision: SAM output channels " +
                        std::to_string(sam_cfg_.downsample_channels[1]) +
                        " differ from the SigLIP width " + std::to_string(siglip_cfg_.width));
    if (sam::kOutSide * sam::kOutSide != siglip_cfg_.n_tokens())
      throw ConfigError("vision: SigLIP makes " + std::to_string(siglip_cfg_.n_tokens()) +
                        " tokens per image, SAM " + std::to_string(sam::kOutSide * sam::kOutSide));
  }

  VisionFeatures encode(const float* pixels, const float* low_res, int n,
                        DebugTaps* debug) const override {
    if (n < 1)
      throw RequestError("vision: encode needs at least one image, got " + std::to_string(n));
    const int64_t S = sam_cfg_.image_size, L = siglip_cfg_.image_size;
    std::vector<float> resized;
    if (!low_res) {  // Resize(384, antialias=True) of the [0, 1] image (spec §3.2 step 1)
      resized.resize(size_t(n) * 3 * size_t(L * L));
      for (int i = 0; i < n; ++i)
        image::resize_bilinear_antialias(pixels + i * 3 * S * S, int(S),
                                         resized.data() + i * 3 * L * L, int(L), 3);
      low_res = resized.data();
    }
    const int64_t T = siglip_cfg_.n_tokens(), C = siglip_cfg_.width, side = sam::kOutSide;
    VisionFeatures f;
    f.high = Tensor({n, C, side, side});
    f.low = Tensor({n, T, C});
    // One tower at a time keeps only one set of activations alive.
    f.sam_time = timed([&] {
      sam::Scratch s(sam_cfg_);
      for (int i = 0; i < n; ++i)
        sam::forward(sam_, sam_cfg_, pixels + i * 3 * S * S, f.high.ptr() + i * C * side * side, s,
                     i == 0 ? debug : nullptr);
    });
    f.siglip_time = timed([&] {
      siglip::Scratch s(siglip_cfg_);
      for (int i = 0; i < n; ++i)
        siglip::forward(siglip_, siglip_cfg_, low_res + i * 3 * L * L, f.low.ptr() + i * T * C, s,
                        i == 0 ? debug : nullptr);
    });
    return f;
  }

  int image_size() const override { return sam_cfg_.image_size; }
  int low_res_size() const override { return siglip_cfg_.image_size; }
  int tokens_per_image() const override { return siglip_cfg_.n_tokens(); }
  int width() const override { return siglip_cfg_.width; }

 private:
  io::SamConfig sam_cfg_;
  io::SiglipConfig siglip_cfg_;
  sam::Weights sam_;
  siglip::Weights siglip_;
};

}  // namespace

std::unique_ptr<VisionModel> make_hybrid_tower(const io::ModelConfig& config,
                                               const io::WeightStore& store, kernels::Precision p,
                                               bool in_memory) {
  if (!config.vision.sam) throw ConfigError("vision: hybrid tower without a SAM config");
  return std::make_unique<HybridTower>(config, store, p, in_memory);
}

}  // namespace dsvl::vision
