// Binds checkpoint tensors to weight-struct fields under a key prefix, checking shape and dtype.
// The per-module tables that use it (sam/weights.cpp, siglip/weights.cpp, aligner/*.cpp) are
// the only places that spell checkpoint keys; forward code uses the struct fields.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "kernels/cpu/weight_arena.h"

namespace dsvl::vision {

class Binder {
 public:
  // `arena` (may be null: matrices as stored) decides how matrix() hands out GEMM weights.
  Binder(const io::WeightStore& store, std::string prefix, kernels::WeightArena* arena = nullptr)
      : store_(store), prefix_(std::move(prefix)), arena_(arena) {}

  // prefix + name + "." (e.g. sub("blocks.3") → ".../blocks.3.").
  Binder sub(const std::string& name) const { return Binder(store_, prefix_ + name + ".", arena_); }

  // A float (F32/F16/BF16) tensor of exactly `shape` (bias, position embedding), as stored:
  // the arena's copy of it (WeightArena::copy), or the mapped view without an arena. Throws
  // IoError if absent, ShapeError naming file, key, actual and expected shape or dtype otherwise.
  TensorView view(const std::string& name, const Shape& shape) const;
  // A GEMM operand (linear or conv weight): the checked tensor passed through the arena's
  // matrix(), i.e. a bf16 copy on the bf16 path for F16/F32 checkpoints (converted once, here).
  TensorView matrix(const std::string& name, const Shape& shape) const;
  // The checked tensor widened to float32 (small vectors: norms, biases, rel-pos tables).
  std::vector<float> floats(const std::string& name, const Shape& shape) const;

  const std::string& prefix() const { return prefix_; }

 private:
  // view()'s checks; the mapped tensor.
  TensorView mapped(const std::string& name, const Shape& shape) const;

  const io::WeightStore& store_;
  std::string prefix_;
  kernels::WeightArena* arena_;
};

}  // namespace dsvl::vision
