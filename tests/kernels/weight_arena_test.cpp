// kernels::WeightArena: which views pass through untouched and which become owned bf16 copies
// (the load-time conversion of the bf16 path), on odd sizes including one that spans several
// conversion chunks (to_bf16 converts in parallel pieces of 65536 elements).
#include "kernels/cpu/weight_arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"

namespace dsvl::kernels {
namespace {

std::vector<float> random_values(int64_t n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// n random values as float32, rounded to F16 and rounded to BF16.
struct Values {
  std::vector<float> f32;
  std::vector<uint16_t> f16, bf16;
};
Values random_halves(int64_t n) {
  Values v{random_values(n), std::vector<uint16_t>(size_t(n)), std::vector<uint16_t>(size_t(n))};
  for (size_t i = 0; i < size_t(n); ++i) {
    v.f16[i] = f32_to_f16(v.f32[i]);
    v.bf16[i] = f32_to_bf16(v.f32[i]);
  }
  return v;
}

TEST(WeightArena, F32PassesEveryViewThrough) {
  const std::vector<float> v = random_values(35);
  const TensorView w{DType::kF32, {5, 7}, v.data()};
  WeightArena arena(Precision::kF32);
  const TensorView got = arena.matrix(w);
  EXPECT_EQ(got.data, w.data);
  EXPECT_EQ(got.dtype, DType::kF32);
  EXPECT_EQ(arena.owned_bytes(), 0);
}

TEST(WeightArena, Bf16KeepsBf16ViewsAndRoundsOthersOnce) {
  for (const Shape& shape : {Shape{1, 1}, Shape{3, 5, 1, 1}, Shape{7, 20011}}) {
    const int64_t n = shape_numel(shape);
    const auto [v, h, b] = random_halves(n);
    WeightArena arena(Precision::kBF16);
    const TensorView bf{DType::kBF16, shape, b.data()};
    EXPECT_EQ(arena.matrix(bf).data, bf.data) << "BF16 must be zero-copy";
    EXPECT_EQ(arena.owned_bytes(), 0);

    const TensorView f32 = arena.matrix(TensorView{DType::kF32, shape, v.data()});
    const TensorView f16 = arena.matrix(TensorView{DType::kF16, shape, h.data()});
    EXPECT_EQ(arena.owned_bytes(), 2 * 2 * n);
    for (const TensorView* t : {&f32, &f16}) {
      ASSERT_EQ(t->dtype, DType::kBF16);
      ASSERT_EQ(t->shape, shape);
    }
    const auto* p32 = static_cast<const uint16_t*>(f32.data);
    const auto* p16 = static_cast<const uint16_t*>(f16.data);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(p32[i], b[size_t(i)]) << "F32 element " << i;  // round to nearest even
      ASSERT_EQ(p16[i], f32_to_bf16(f16_to_f32(h[size_t(i)]))) << "F16 element " << i;
    }
  }
}

TEST(WeightArena, InMemoryCopiesBf16Too) {
  const Shape shape{5, 4099};
  const int64_t n = shape_numel(shape);
  const std::vector<float> v = random_values(n);
  std::vector<uint16_t> b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) b[size_t(i)] = f32_to_bf16(v[size_t(i)]);
  WeightArena arena(Precision::kBF16, /*in_memory=*/true);
  const TensorView bf{DType::kBF16, shape, b.data()};
  const TensorView c = arena.matrix(bf);
  EXPECT_NE(c.data, bf.data);
  EXPECT_EQ(c.dtype, DType::kBF16);
  EXPECT_EQ(c.shape, shape);
  EXPECT_EQ(arena.owned_bytes(), 2 * n);
  const auto* p = static_cast<const uint16_t*>(c.data);
  EXPECT_EQ(std::vector<uint16_t>(p, p + n), b);
  // The f32 path never copies, whatever the flag.
  WeightArena f32(Precision::kF32, true);
  EXPECT_EQ(f32.matrix(bf).data, bf.data);
}

// Repacking on the float32 path takes BF16 matrices only (their values are exact there): F32
// and F16 ones, and BF16 vectors, pass through.
TEST(WeightArena, F32RepacksOnlyBf16Matrices) {
  const Shape shape{40, 70};
  const int64_t n = shape_numel(shape);
  const auto [v, h, b] = random_halves(n);
  WeightArena arena(Precision::kF32, /*in_memory=*/false, /*repack=*/true);
  const TensorView f32{DType::kF32, shape, v.data()}, f16{DType::kF16, shape, h.data()};
  const TensorView vec{DType::kBF16, {n}, b.data()};
  EXPECT_EQ(arena.matrix(f32).data, f32.data);
  EXPECT_EQ(arena.matrix(f16).data, f16.data);
  EXPECT_EQ(arena.matrix(vec).data, vec.data);
  EXPECT_EQ(arena.owned_bytes(), 0);
  const TensorView bf{DType::kBF16, shape, b.data()};
  const TensorView p = arena.matrix(bf);
  EXPECT_TRUE(p.packed);
  EXPECT_EQ(p.shape, shape);
  EXPECT_EQ(arena.owned_bytes(), 2 * packed_elems(shape));
  EXPECT_EQ(0, std::memcmp(p.data, pack_bf16(bf).data.data(), size_t(arena.owned_bytes())));
}

TEST(WeightArena, CopyKeepsDtypeShapeAndValues) {
  const auto [v, h, b] = random_halves(1001);
  WeightArena arena(Precision::kBF16, /*in_memory=*/false, /*repack=*/true);
  int64_t bytes = 0;
  for (const TensorView& w :
       {TensorView{DType::kF32, {1001}, v.data()}, TensorView{DType::kF16, {7, 143}, h.data()},
        TensorView{DType::kBF16, {1, 11, 91}, b.data()}}) {
    const TensorView c = arena.copy(w);
    EXPECT_NE(c.data, w.data);
    EXPECT_EQ(c.dtype, w.dtype);
    EXPECT_EQ(c.shape, w.shape);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(c.data) % 64, 0u);
    EXPECT_EQ(0, std::memcmp(c.data, w.data, w.nbytes()));
    bytes += int64_t(w.nbytes());
  }
  EXPECT_EQ(arena.copied_bytes(), bytes);
  EXPECT_EQ(arena.owned_bytes(), 0) << "copies are not weight conversions";
}

TEST(WeightArena, RejectsNonFloatWeights) {
  const std::vector<int64_t> v(4);
  WeightArena arena(Precision::kBF16);
  EXPECT_THROW(arena.matrix(TensorView{DType::kI64, {2, 2}, v.data()}), ShapeError);
}

}  // namespace
}  // namespace dsvl::kernels
