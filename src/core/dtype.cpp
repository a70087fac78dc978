#include "core/dtype.h"

#include <cmath>

#include "core/error.h"

namespace dsvl {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kI64:
      return 8;
    case DType::kI32:
      return 4;
    case DType::kU8:
      return 1;
    case DType::kBool:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI64:
      return "I64";
    case DType::kI32:
      return "I32";
    case DType::kU8:
      return "U8";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

DType dtype_from_name(std::string_view n) {
  if (n == "F32") return DType::kF32;
  if (n == "F16") return DType::kF16;
  if (n == "BF16") return DType::kBF16;
  if (n == "I64") return DType::kI64;
  if (n == "I32") return DType::kI32;
  if (n == "U8") return DType::kU8;
  if (n == "BOOL") return DType::kBool;
  throw IoError("unknown dtype \"" + std::string(n) + "\"");
}

uint16_t f32_to_f16(float f) {
#if defined(__F16C__)
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t au = u & 0x7fffffffu;
  if (au >= 0x7f800000u) return sign | 0x7c00u | (au > 0x7f800000u ? 0x200u : 0u);
  if (au >= 0x477ff000u) return sign | 0x7c00u;  // overflow -> inf
  if (au < 0x38800000u) {                        // subnormal or zero
    float a;
    std::memcpy(&a, &au, 4);
    return sign | uint16_t(std::nearbyint(a * 16777216.0f));
  }
  uint32_t r = au + 0xfffu + ((au >> 13) & 1u) - 0x38000000u;
  return sign | uint16_t(r >> 13);
#endif
}

}  // namespace dsvl
