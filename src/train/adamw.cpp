#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/threadpool.h"
#include "io/safetensors.h"
#include "kernels/cpu/simd.h"

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

// Σ g² of [i0, i1): float partial sums per 4096-element block (16 lanes × 4 accumulators
// under AVX-512), double across blocks.
double sq_sum_range(const float* g, int64_t i0, int64_t i1) {
  double s = 0;
  for (int64_t b = i0; b < i1; b += 4096) {
    const int64_t e = std::min(i1, b + 4096);
    int64_t i = b;
    float f = 0;
#if defined(__AVX512F__)
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 64 <= e; i += 64) {
      const __m512 x0 = _mm512_loadu_ps(g + i), x1 = _mm512_loadu_ps(g + i + 16);
      const __m512 x2 = _mm512_loadu_ps(g + i + 32), x3 = _mm512_loadu_ps(g + i + 48);
      a0 = _mm512_fmadd_ps(x0, x0, a0);
      a1 = _mm512_fmadd_ps(x1, x1, a1);
      a2 = _mm512_fmadd_ps(x2, x2, a2);
      a3 = _mm512_fmadd_ps(x3, x3, a3);
    }
    f = kernels::simd::hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#endif
    for (; i < e; ++i) f += g[i] * g[i];
    s += double(f);
  }
  return s;
}

// Σ g² of one tensor, split over the threads.
double sq_norm(const std::vector<float>& g) {
  const int64_t n = int64_t(g.size());
  if (n < (1 << 16)) return sq_sum_range(g.data(), 0, n);
  std::vector<double> part(size_t(num_threads()), 0.0);
  parallel_run([&](int t, int nt) {
    part[size_t(t)] = sq_sum_range(g.data(), n * t / nt, n * (t + 1) / nt);
  });
  double s = 0;
  for (double x : part) s += x;
  return s;
}

struct AdamScalars {
  float grad_scale, decay, b1, b2, one_b1, one_b2, bc2_sqrt, eps, step_size;
};

// The AdamW update of elements [0, n) (pointers already offset). Vector body and scalar tail
// do the same float32 operations (explicit FMAs), so the split never changes a result.
void adamw_range(float* __restrict w, float* __restrict g, float* __restrict m, float* __restrict v,
                 int64_t n, const AdamScalars& s, bool zero_grad) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 gs = _mm512_set1_ps(s.grad_scale), dec = _mm512_set1_ps(s.decay);
  const __m512 b1 = _mm512_set1_ps(s.b1), b2 = _mm512_set1_ps(s.b2);
  const __m512 ob1 = _mm512_set1_ps(s.one_b1), ob2 = _mm512_set1_ps(s.one_b2);
  const __m512 bc2 = _mm512_set1_ps(s.bc2_sqrt), eps = _mm512_set1_ps(s.eps);
  const __m512 nstep = _mm512_set1_ps(-s.step_size);
  for (; i + 16 <= n; i += 16) {
    const __m512 gi = _mm512_mul_ps(_mm512_loadu_ps(g + i), gs);
    const __m512 wi = _mm512_mul_ps(_mm512_loadu_ps(w + i), dec);
    const __m512 mi = _mm512_fmadd_ps(ob1, gi, _mm512_mul_ps(_mm512_loadu_ps(m + i), b1));
    const __m512 vi =
        _mm512_fmadd_ps(_mm512_mul_ps(ob2, gi), gi, _mm512_mul_ps(_mm512_loadu_ps(v + i), b2));
    const __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2), eps);
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    _mm512_storeu_ps(w + i, _mm512_fmadd_ps(nstep, _mm512_div_ps(mi, den), wi));
    if (zero_grad) _mm512_storeu_ps(g + i, _mm512_setzero_ps());
  }
#endif
  for (; i < n; ++i) {
    const float gi = g[i] * s.grad_scale;
    const float wi = w[i] * s.decay;
    m[i] = std::fma(s.one_b1, gi, m[i] * s.b1);
    v[i] = std::fma(s.one_b2 * gi, gi, v[i] * s.b2);
    const float den = std::sqrt(v[i]) / s.bc2_sqrt + s.eps;
    w[i] = std::fma(-s.step_size, m[i] / den, wi);
    if (zero_grad) g[i] = 0.0f;
  }
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

void AdamW::step(ParamSet& ps, double lr, float grad_scale, bool zero_grad) {
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, double(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, double(t_));
  AdamScalars sc{};
  sc.grad_scale = grad_scale;
  sc.step_size = float(lr / bc1);
  sc.bc2_sqrt = float(std::sqrt(bc2));
  sc.b1 = float(cfg_.beta1);
  sc.b2 = float(cfg_.beta2);
  sc.one_b1 = float(1.0 - cfg_.beta1);
  sc.one_b2 = float(1.0 - cfg_.beta2);
  sc.eps = float(cfg_.eps);
  for (Param* p : ps.trainable()) {
    Moments& st = state_[p->key];
    if (st.m.size() != p->value.size()) {
      st.m.assign(p->value.size(), 0.0f);
      st.v.assign(p->value.size(), 0.0f);
    }
    sc.decay = decays(p->shape) ? float(1.0 - lr * cfg_.weight_decay) : 1.0f;
    float* w = p->value.data();
    float* g = p->grad.data();
    float* m = st.m.data();
    float* v = st.v.data();
    parallel_for(
        int64_t(p->value.size()),
        [&](int64_t i0, int64_t i1) {
          adamw_range(w + i0, g + i0, m + i0, v + i0, i1 - i0, sc, zero_grad);
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
