#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/threadpool.h"
#include "io/safetensors.h"

namespace dsvl::train {

double LrSchedule::lr_at(double base, int64_t step) const {
  switch (kind) {
    case Kind::kConstant:
      return base;
    case Kind::kWarmupCosine: {
      if (warmup_steps > 0 && step <= warmup_steps)
        return base * double(step) / double(warmup_steps);
      const double span = double(std::max<int64_t>(1, total_steps - warmup_steps));
      const double p = std::min(1.0, double(step - warmup_steps) / span);
      const double floor = base * min_lr_ratio;
      return floor + (base - floor) * 0.5 * (1.0 + std::cos(M_PI * p));
    }
    case Kind::kStep:
      return base * std::pow(gamma, double((step - 1) / std::max<int64_t>(1, step_size)));
  }
  return base;
}

namespace {

// Σ g² of one tensor: float partial sums per block, double across blocks and threads.
double sq_norm(const std::vector<float>& g) {
  const int64_t n = int64_t(g.size());
  std::vector<double> part(size_t(num_threads()), 0.0);
  parallel_run([&](int t, int nt) {
    const int64_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
    double s = 0;
    for (int64_t b = i0; b < i1; b += 4096) {
      float f = 0;
      for (int64_t i = b; i < std::min(i1, b + 4096); ++i) f += g[size_t(i)] * g[size_t(i)];
      s += double(f);
    }
    part[size_t(t)] = s;
  });
  double s = 0;
  for (double x : part) s += x;
  return s;
}

}  // namespace

double AdamW::grad_norm(ParamSet& ps) const {
  double sq = 0;
  for (Param* p : ps.trainable()) {
    const float n = float(std::sqrt(sq_norm(p->grad)));
    sq += double(n) * double(n);
  }
  return double(float(std::sqrt(sq)));
}

float AdamW::clip_coef(double norm) const {
  if (cfg_.max_grad_norm <= 0) return 1.0f;
  const float coef = float(cfg_.max_grad_norm) / (float(norm) + 1e-6f);
  return coef < 1.0f ? coef : 1.0f;
}

double AdamW::clip_gradients(ParamSet& ps) const {
  const double total = grad_norm(ps);
  const float coef = clip_coef(total);
  if (coef < 1.0f)
    for (Param* p : ps.trainable()) {
      float* g = p->grad.data();
      parallel_for(
          int64_t(p->grad.size()),
          [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) g[i] *= coef;
          },
          1 << 14);
    }
  return total;
}

void AdamW::step(ParamSet& ps, double lr, float grad_scale) {
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, double(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, double(t_));
  const float step_size = float(lr / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float b1 = float(cfg_.beta1), b2 = float(cfg_.beta2);
  const float one_b1 = float(1.0 - cfg_.beta1), one_b2 = float(1.0 - cfg_.beta2);
  const float eps = float(cfg_.eps);
  for (Param* p : ps.trainable()) {
    Moments& st = state_[p->key];
    if (st.m.size() != p->value.size()) {
      st.m.assign(p->value.size(), 0.0f);
      st.v.assign(p->value.size(), 0.0f);
    }
    const float decay = decays(p->shape) ? float(1.0 - lr * cfg_.weight_decay) : 1.0f;
    float* __restrict w = p->value.data();
    const float* __restrict g = p->grad.data();
    float* __restrict m = st.m.data();
    float* __restrict v = st.v.data();
    parallel_for(
        int64_t(p->value.size()),
        [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const float gi = g[i] * grad_scale;
            w[i] *= decay;
            m[i] = m[i] * b1 + one_b1 * gi;
            v[i] = v[i] * b2 + one_b2 * gi * gi;
            const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
            w[i] += -step_size * (m[i] / denom);
          }
        },
        1 << 14);
  }
}

void AdamW::save(const std::string& path) const {
  std::vector<io::OwnedTensor> ts;
  ts.push_back(io::make_i64("adamw.step", {}, {t_}));
  for (const auto& [key, st] : state_) {
    ts.push_back(io::make_f32("m." + key, {int64_t(st.m.size())}, st.m.data()));
    ts.push_back(io::make_f32("v." + key, {int64_t(st.v.size())}, st.v.data()));
  }
  const std::map<std::string, std::string> meta = {
      {"lr", std::to_string(cfg_.lr)},
      {"beta1", std::to_string(cfg_.beta1)},
      {"beta2", std::to_string(cfg_.beta2)},
      {"eps", std::to_string(cfg_.eps)},
      {"weight_decay", std::to_string(cfg_.weight_decay)}};
  io::write_safetensors(path, ts, meta);
}

void AdamW::load(const std::string& path) {
  io::SafeTensorsFile f(path);
  state_.clear();
  auto it = f.tensors().find("adamw.step");
  if (it == f.tensors().end() || it->second.dtype != DType::kI64)
    throw IoError(path + ": no adamw.step (I64) tensor: not an optimizer state file");
  t_ = *static_cast<const int64_t*>(it->second.data);
  for (const auto& [name, view] : f.tensors()) {
    if (name.size() < 3 || name[1] != '.' || (name[0] != 'm' && name[0] != 'v')) continue;
    if (view.dtype != DType::kF32) throw IoError(path + ": " + name + " is not F32");
    const float* d = static_cast<const float*>(view.data);
    auto& dst = name[0] == 'm' ? state_[name.substr(2)].m : state_[name.substr(2)].v;
    dst.assign(d, d + view.numel());
  }
}

}  // namespace dsvl::train
