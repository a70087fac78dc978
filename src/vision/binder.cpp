#include "vision/binder.h"

#include <filesystem>

#include "core/error.h"

namespace dsvl::vision {

TensorView Binder::mapped(const std::string& name, const Shape& shape) const {
  const std::string key = prefix_ + name;
  const TensorView& v = store_.require(key, shape);
  if (v.dtype != DType::kF32 && v.dtype != DType::kF16 && v.dtype != DType::kBF16)
    throw ShapeError(std::filesystem::path(store_.file_of(key)).filename().string() + ": " + key +
                     ": dtype " + dtype_name(v.dtype) + ", expected F32, F16 or BF16");
  return v;
}

TensorView Binder::view(const std::string& name, const Shape& shape) const {
  const TensorView v = mapped(name, shape);
  return arena_ ? arena_->copy(v) : v;
}

TensorView Binder::matrix(const std::string& name, const Shape& shape) const {
  const TensorView v = mapped(name, shape);
  return arena_ ? arena_->matrix(v) : v;
}

std::vector<float> Binder::floats(const std::string& name, const Shape& shape) const {
  return to_float(mapped(name, shape)).data;
}

}  // namespace dsvl::vision
