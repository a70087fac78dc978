// The two projector variants and the key table of aligner.* (spec §2.1, §3.5).
#include "aligner/aligner.h"

#include <vector>

#include "aligner/mlp.h"
#include "core/error.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/matmul.h"
#include "vision/common.h"

namespace dsvl::aligner {
namespace {

constexpr const char* kPrefix = "aligner.";
constexpr int64_t kSide = 24, kTokens = kSide * kSide;  // 576 tokens per image, both layouts

// mlp_gelu: layers.0 Linear(input_dim → n_embed), then layers.{2i} = [GELU at 2i−1,
// Linear(n_embed → n_embed)] for i = 1 … depth−1.
class MlpGelu final : public Aligner {
 public:
  MlpGelu(const io::AlignerConfig& c, const io::WeightStore& store, kernels::Precision p,
          bool in_memory)
      : Aligner(p, in_memory), c_(c) {
    const vision::Binder b(store, kPrefix, &arena_);
    layers_0_ = bind_linear(b, "layers.0", c.n_embed, c.input_dim);
    for (int i = 1; i < c.depth; ++i)
      layers_.push_back(bind_linear(b, "layers." + std::to_string(2 * i), c.n_embed, c.n_embed));
  }

  Tensor forward(const vision::VisionFeatures& f, int n) const override {
    const int64_t M = n * kTokens, D = c_.n_embed;
    check_features(f.out, {n, kTokens, c_.input_dim}, "vision features `out`");
    Tensor y({n, kTokens, D});
    std::vector<float> tmp(size_t(M * D));
    kernels::linear(f.out.ptr(), M, layers_0_.weight, &layers_0_.bias, y.ptr(), precision());
    gelu_linear_stack(layers_, y.ptr(), M, D, tmp.data(), precision());
    return y;
  }
  int out_dim() const override { return c_.n_embed; }

 private:
  io::AlignerConfig c_;
  LinearWeights layers_0_;
  std::vector<LinearWeights> layers_;
};

// low_high_hybrid_split_mlp_gelu: high_up_proj / low_up_proj (input_dim → n_embed/2) write the
// two halves of z (high first), then layers.{2i+1} = [GELU at 2i, Linear(n_embed → n_embed)]
// for i = 0 … depth−2.
class HybridSplit final : public Aligner {
 public:
  HybridSplit(const io::AlignerConfig& c, const io::WeightStore& store, kernels::Precision p,
              bool in_memory)
      : Aligner(p, in_memory), c_(c) {
    const vision::Binder b(store, kPrefix, &arena_);
    high_up_proj_ = bind_linear(b, "high_up_proj", c.n_embed / 2, c.input_dim);
    low_up_proj_ = bind_linear(b, "low_up_proj", c.n_embed / 2, c.input_dim);
    for (int i = 0; i + 1 < c.depth; ++i)
      layers_.push_back(
          bind_linear(b, "layers." + std::to_string(2 * i + 1), c.n_embed, c.n_embed));
  }

  Tensor forward(const vision::VisionFeatures& f, int n) const override {
    const int64_t M = n * kTokens, D = c_.n_embed, C = c_.input_dim;
    check_features(f.high, {n, C, kSide, kSide}, "vision features `high`");
    check_features(f.low, {n, kTokens, C}, "vision features `low`");
    // high is NCHW; the official code flattens it to tokens [n, 576, C] (row-major pixels).
    std::vector<float> tmp(size_t(M * std::max(D, C)));
    for (int i = 0; i < n; ++i)
      vision::transpose(f.high.ptr() + i * C * kTokens, C, kTokens, tmp.data() + i * kTokens * C);
    Tensor z({n, kTokens, D});
    kernels::linear_strided(tmp.data(), C, M, high_up_proj_.weight, &high_up_proj_.bias, z.ptr(), D,
                            precision());
    kernels::linear_strided(f.low.ptr(), C, M, low_up_proj_.weight, &low_up_proj_.bias,
                            z.ptr() + D / 2, D, precision());
    gelu_linear_stack(layers_, z.ptr(), M, D, tmp.data(), precision());
    return z;
  }
  int out_dim() const override { return c_.n_embed; }

 private:
  io::AlignerConfig c_;
  LinearWeights high_up_proj_, low_up_proj_;
  std::vector<LinearWeights> layers_;
};

}  // namespace

std::unique_ptr<Aligner> Aligner::load(const io::ModelConfig& config, const io::WeightStore& store,
                                       kernels::Precision precision, bool in_memory) {
  switch (config.aligner.kind) {
    case io::AlignerKind::kMlpGelu:
      return std::make_unique<MlpGelu>(config.aligner, store, precision, in_memory);
    case io::AlignerKind::kHybridSplit:
      return std::make_unique<HybridSplit>(config.aligner, store, precision, in_memory);
  }
  throw ConfigError("aligner: unknown projector kind");
}

}  // namespace dsvl::aligner
