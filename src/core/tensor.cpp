#include "core/tensor.h"

#include <cstring>

#include "core/error.h"

namespace dsvl {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

float load_float(const TensorView& v, int64_t i) {
  if (v.packed) throw ShapeError("load_float: a repacked weight has no row-major elements");
  // memcpy: views into a safetensors file need not be aligned (the conformance goldens are
  // not), and a misaligned typed load is undefined behaviour.
  const auto* p = static_cast<const uint8_t*>(v.data);
  switch (v.dtype) {
    case DType::kF32: {
      float f;
      std::memcpy(&f, p + i * 4, 4);
      return f;
    }
    case DType::kF16: {
      uint16_t h;
      std::memcpy(&h, p + i * 2, 2);
      return f16_to_f32(h);
    }
    case DType::kBF16: {
      uint16_t h;
      std::memcpy(&h, p + i * 2, 2);
      return bf16_to_f32(h);
    }
    default:
      throw ShapeError(std::string("expected a float tensor, got ") + dtype_name(v.dtype));
  }
}

Tensor to_float(const TensorView& v) {
  if (v.packed) throw ShapeError("to_float: a repacked weight has no row-major elements");
  Tensor t(v.shape);
  const int64_t n = v.numel();
  if (v.dtype == DType::kF32) {
    std::memcpy(t.ptr(), v.data, size_t(n) * 4);
    return t;
  }
  for (int64_t i = 0; i < n; ++i) t.data[size_t(i)] = load_float(v, i);
  return t;
}

}  // namespace dsvl
