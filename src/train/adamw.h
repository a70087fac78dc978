// AdamW exactly as torch.optim.AdamW (PyTorch 1.13, single-tensor path) with
// torch.nn.utils.clip_grad_norm_, plus learning-rate schedules and gradient accumulation
// helpers. Moments and master weights are float32; bias corrections are computed in double
// and applied as float32 scalars, like the Python scalars of the reference.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "train/param.h"

namespace dsvl::train {

struct AdamWConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.0;   // decoupled; applied only to tensors with dim ≥ 2
  double max_grad_norm = 1.0;  // ≤ 0: no clipping
};

// lr(step) for step = 1, 2, … (the step about to be taken).
struct LrSchedule {
  enum class Kind { kConstant, kWarmupCosine, kStep };
  Kind kind = Kind::kConstant;
  int64_t warmup_steps = 0;   // linear warm-up from lr/warmup to lr (warm-up + cosine)
  int64_t total_steps = 0;    // cosine reaches min_lr at total_steps
  double min_lr_ratio = 0.0;  // cosine floor as a fraction of the base lr
  int64_t step_size = 1;      // step schedule: multiply by gamma every step_size steps
  double gamma = 0.1;
  double lr_at(double base_lr, int64_t step) const;
};

class AdamW {
 public:
  explicit AdamW(AdamWConfig cfg = {}) : cfg_(cfg) {}
  const AdamWConfig& config() const { return cfg_; }
  int64_t step_count() const { return t_; }

  // Global L2 norm of all trainable gradients: the norm of the per-tensor norms, as
  // clip_grad_norm_ computes it.
  double grad_norm(ParamSet& ps) const;
  // The clipping factor min(1, max_norm / (norm + 1e-6)) as float32 (1 without clipping).
  float clip_coef(double norm) const;
  // grad_norm, then scales the gradients in place by clip_coef; returns the norm.
  double clip_gradients(ParamSet& ps) const;
  // One update of every trainable param with learning rate lr (t advances by one), reading
  // each gradient as grad·grad_scale (float32 product, like an in-place clip before it): pass
  // clip_coef(grad_norm(ps)) to clip without a separate pass over the gradients.
  // zero_grad: also set every gradient to 0 while it is read (saves ParamSet::zero_grad's
  // separate pass over the gradients before the next step).
  void step(ParamSet& ps, double lr, float grad_scale = 1.0f, bool zero_grad = false);

  // Optimizer state (step count, m and v per key) for bit-exact resume.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  struct Moments {
    std::vector<float> m, v;
  };
  AdamWConfig cfg_;
  int64_t t_ = 0;
  std::map<std::string, Moments> state_;
};

// True when weight decay applies to a tensor of this shape (dim ≥ 2).
inline bool decays(const Shape& s) { return s.size() >= 2; }

}  // namespace dsvl::train
