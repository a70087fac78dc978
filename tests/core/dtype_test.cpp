#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace dsvl {
namespace {

TEST(DType, NamesRoundTrip) {
  for (DType t :
       {DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kU8, DType::kBool})
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_THROW(dtype_from_name("F8_E4M3"), IoError);
}

TEST(DType, HalfConversionsRoundTripEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;
    float b = bf16_to_f32(uint16_t(h));
    if (std::isnan(b)) continue;
    ASSERT_EQ(f32_to_bf16(b), h) << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // Round to nearest even at the bf16 halfway point.
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // 1 + 2^-8: tie -> even (1.0)
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3f82);  // 1 + 3*2^-8: tie -> even
}

}  // namespace
}  // namespace dsvl
