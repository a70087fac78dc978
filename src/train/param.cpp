#include "train/param.h"

#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"

namespace dsvl::train {

TensorView Param::view() const {
  if (trainable) return TensorView{DType::kF32, shape, value.data()};
  return stored;
}

const float* Param::f32() {
  if (trainable) return value.data();
  if (stored.dtype == DType::kF32) return static_cast<const float*>(stored.data);
  if (widened.empty()) widened = to_float(stored).data;
  return widened.data();
}

ParamSet::ParamSet(io::WeightStore store) : store_(std::move(store)) {
  for (const auto& key : store_.keys()) {
    const TensorView& v = store_.get(key);
    Param p;
    p.key = key;
    p.shape = v.shape;
    p.stored = v;
    params_.emplace(key, std::move(p));
  }
}

Param& ParamSet::add(const std::string& key, const Shape& shape, const std::vector<float>& values,
                     DType dtype) {
  if (int64_t(values.size()) != shape_numel(shape))
    throw ShapeError(key + ": " + std::to_string(values.size()) + " values for shape " +
                     shape_str(shape));
  Param p;
  p.key = key;
  p.shape = shape;
  p.owned.resize(values.size() * dtype_size(dtype));
  if (dtype == DType::kF32) {
    std::memcpy(p.owned.data(), values.data(), p.owned.size());
  } else {
    auto* h = reinterpret_cast<uint16_t*>(p.owned.data());
    for (size_t i = 0; i < values.size(); ++i)
      h[i] = dtype == DType::kF16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
  }
  auto [it, inserted] = params_.insert_or_assign(key, std::move(p));
  (void)inserted;
  it->second.stored = TensorView{dtype, shape, it->second.owned.data()};
  return it->second;
}

Param& ParamSet::at(const std::string& key) {
  auto it = params_.find(key);
  if (it == params_.end()) throw IoError("checkpoint has no tensor " + key);
  return it->second;
}

Param& ParamSet::require(const std::string& key, const Shape& expected) {
  Param& p = at(key);
  if (p.shape != expected)
    throw ShapeError(key + ": shape " + shape_str(p.shape) + ", expected " + shape_str(expected));
  return p;
}

namespace {
bool starts_with_any(const std::string& s, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (s.compare(0, p.size(), p) == 0) return true;
  return false;
}
}  // namespace

int ParamSet::set_trainable(const std::vector<std::string>& prefixes,
                            const std::vector<std::string>& excluded) {
  int n = 0;
  for (auto& [key, p] : params_) {
    const bool t = starts_with_any(key, prefixes) && !starts_with_any(key, excluded);
    if (t && !p.trainable) {
      Tensor f = to_float(p.stored);  // exact upcast of BF16/F16
      p.value = std::move(f.data);
      p.grad.assign(p.value.size(), 0.0f);
    } else if (!t) {
      p.value = {};
      p.grad = {};
    }
    p.trainable = t;
    if (t) p.widened = {};
    n += t;
  }
  return n;
}

std::vector<Param*> ParamSet::trainable() {
  std::vector<Param*> r;
  for (auto& [k, p] : params_)
    if (p.trainable) r.push_back(&p);
  return r;
}

std::vector<const Param*> ParamSet::all() const {
  std::vector<const Param*> r;
  for (auto& [k, p] : params_) r.push_back(&p);
  return r;
}

void ParamSet::zero_grad() {
  for (auto& [k, p] : params_)
    if (p.trainable) {
      float* g = p.grad.data();
      parallel_for(
          int64_t(p.grad.size()), [&](int64_t i0, int64_t i1) { std::fill(g + i0, g + i1, 0.0f); },
          1 << 16);
    }
}

double ParamSet::grad_sq_norm() const {
  double s = 0;
  for (auto& [k, p] : params_)
    if (p.trainable)
      for (float g : p.grad) s += double(g) * double(g);
  return s;
}

int64_t ParamSet::trainable_numel() const {
  int64_t n = 0;
  for (auto& [k, p] : params_)
    if (p.trainable) n += p.numel();
  return n;
}

}  // namespace dsvl::train
