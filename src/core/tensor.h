// Tensor views (borrowed bytes, e.g. a mmapped checkpoint tensor) and an owning float32
// tensor for activations. Model code works on raw float pointers plus named dimensions;
// these types exist for loading, binding and dumping.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsvl {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[3072, 1024]"

// A typed view of bytes someone else owns (mmap, a buffer). Never frees.
struct TensorView {
  DType dtype = DType::kF32;
  Shape shape;
  const void* data = nullptr;
  // A bf16 GEMM weight repacked at load into the kernels' tile panels (kernels/cpu/
  // weight_arena.h), not row-major: only the linear layers read it; load_float refuses it.
  bool packed = false;

  int64_t numel() const { return shape_numel(shape); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape.at(size_t(i < 0 ? int(shape.size()) + i : i)); }
};

// Owning float32 tensor (activations, goldens converted to float).
struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(Shape s) : shape(std::move(s)), data(size_t(shape_numel(shape)), 0.0f) {}
  int64_t numel() const { return int64_t(data.size()); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
};

// Converts any float dtype (F32/F16/BF16) view to float32; throws ShapeError otherwise.
Tensor to_float(const TensorView& v);
// Element i of a float-typed view as float32.
float load_float(const TensorView& v, int64_t i);

}  // namespace dsvl
