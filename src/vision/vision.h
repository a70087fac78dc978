// The vision side of DeepSeek-VL (spec §3.2–§3.4): pixels in, per-image feature tokens out.
//
//   1.3B (CLIPVisionTower):  SigLIP-L/16 at 384                    → out  [n, 576, C]
//   7B (HybridVisionTower):  SAM-B at 1024 (high) + SigLIP-L at 384 → high [n, C, 24, 24] NCHW,
//                                                                     low  [n, 576, C]
//
// Which tower is built follows config.json (vision_config.cls); the aligner (aligner/aligner.h)
// turns the features into LLM embeddings. Thread-safety: a loaded model is immutable; encode()
// allocates its own activations, so concurrent encode() calls are safe (each uses the shared
// thread pool in turn). The model keeps views into the WeightStore's mapped tensors: the store
// must outlive the model.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/cpu/weight_arena.h"

namespace dsvl::vision {

struct VisionFeatures {
  Tensor high;  // hybrid: SAM tower output [n, C, 24, 24] NCHW (= main + hd·alpha)
  Tensor low;   // hybrid: SigLIP tower output [n, 576, C]
  Tensor out;   // SigLIP-only (1.3B): tower output [n, 576, C]
  // Time encode() spent in each tower, all images together (`dsvl bench` reports the
  // towers separately); zero for a tower the model does not have.
  Timing sam_time, siglip_time;
};

// Intermediates of the FIRST image of an encode() call, named and shaped as the conformance
// kit's debug tensors: sam.x_after_pos, sam.block0, sam.block<g> (g = first global block),
// sam.neck, sam.neck_interp, sam.main, sam.hd, siglip.x_after_pos, siglip.block0,
// siglip.pre_norm. SAM maps in the kit's layouts: [1, 64, 64, C] NHWC for block outputs,
// NCHW for the neck and downsample outputs.
struct DebugTaps {
  std::map<std::string, Tensor> tensors;
};

class VisionModel {
 public:
  // Binds every tensor the tower uses (exact shapes from the config; a missing or mis-shaped
  // tensor throws IoError / ShapeError naming it). Unused checkpoint tensors (attn_pool.*,
  // high_layer_norm, low_layer_norm) are never read. `precision` is that of every linear layer
  // and conv (kernels/cpu/weight_arena.h: on kBF16, F16/F32 matrices are converted once here).
  static std::unique_ptr<VisionModel> load(const io::ModelConfig& config,
                                           const io::WeightStore& store,
                                           kernels::Precision precision = kernels::Precision::kF32,
                                           bool in_memory = false);
  virtual ~VisionModel() = default;

  kernels::Precision precision() const { return arena_.precision(); }
  // Bytes of weight copies the model owns (bf16 conversions; 0 when all is mmapped).
  int64_t owned_weight_bytes() const { return arena_.owned_bytes(); }

  // pixels: n processor outputs [n, 3, S, S] in [0, 1] (S = image_size(): 1024 hybrid, 384
  // SigLIP-only); the towers normalise internally (spec §3.2). low_res: hybrid only, the
  // [n, 3, 384, 384] antialiased-bilinear downscale of pixels (still in [0, 1]) as made by
  // image::resize_bilinear_antialias / image::resized_pixel_values; nullptr makes the hybrid
  // compute it itself (same function, same result). Must be nullptr for SigLIP-only models.
  // Throws RequestError for a low_res given to a SigLIP-only model or n < 1.
  virtual VisionFeatures encode(const float* pixels, const float* low_res, int n,
                                DebugTaps* debug = nullptr) const = 0;

  virtual int image_size() const = 0;        // S of `pixels`
  virtual int low_res_size() const = 0;      // 384 for the hybrid, 0 if no low-res input
  virtual int tokens_per_image() const = 0;  // 576
  virtual int width() const = 0;             // C of the features (= aligner input_dim)

 protected:
  VisionModel(kernels::Precision p, bool in_memory) : arena_(p, in_memory) {}
  kernels::WeightArena arena_;  // built before the towers' weights, which point into it
};

}  // namespace dsvl::vision
