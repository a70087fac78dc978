// The MLP projector from vision features to LLM embeddings (spec §3.5):
//   mlp_gelu (1.3B):                        out = L_{d−1}(…GELU(L_0(x)))
//   low_high_hybrid_split_mlp_gelu (7B):    z = high_up_proj(high) ⊕ low_up_proj(low)
//                                           (high half first), then [GELU, Linear] × (depth−1)
// GELU is exact (erf). Thread-safety as vision::VisionModel: immutable after load, views into
// the WeightStore (which must outlive it).
#pragma once

#include <memory>

#include "core/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/cpu/weight_arena.h"
#include "vision/vision.h"

namespace dsvl::aligner {

class Aligner {
 public:
  // Binds aligner.* with the shapes implied by the config (IoError / ShapeError naming the
  // tensor otherwise). The variant follows aligner_config.params.projector_type. `precision`:
  // of the linear layers (on kBF16, F16/F32 matrices are converted once here); GELU is float32.
  static std::unique_ptr<Aligner> load(const io::ModelConfig& config, const io::WeightStore& store,
                                       kernels::Precision precision = kernels::Precision::kF32,
                                       bool in_memory = false);
  virtual ~Aligner() = default;

  kernels::Precision precision() const { return arena_.precision(); }
  // Bytes of weight copies the aligner owns (bf16 conversions; 0 when all is mmapped).
  int64_t owned_weight_bytes() const { return arena_.owned_bytes(); }

  // features of n images (as returned by VisionModel::encode) → [n, 576, n_embed].
  // Throws ShapeError if the features lack the tensors this variant needs or have other shapes.
  virtual Tensor forward(const vision::VisionFeatures& features, int n) const = 0;

  virtual int out_dim() const = 0;  // n_embed (= LLM hidden size)

 protected:
  Aligner(kernels::Precision p, bool in_memory) : arena_(p, in_memory) {}
  kernels::WeightArena arena_;  // built before the layers' weights, which point into it
};

}  // namespace dsvl::aligner
