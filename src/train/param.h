// Parameters as the training path sees them. Every checkpoint tensor is a Param; frozen ones
// keep pointing at the stored bytes (mmapped, any float dtype, never copied), trainable ones
// get a float32 master copy (upcast exactly from BF16/F16) and a float32 gradient buffer.
// Model code binds Param pointers once (weights.h) and reads `view()`; addresses are stable
// for the lifetime of the ParamSet.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"

namespace dsvl::train {

struct Param {
  std::string key;
  Shape shape;
  TensorView stored;  // as loaded (or as owned below)
  bool trainable = false;
  std::vector<float> value;    // float32 master copy (trainable only)
  std::vector<float> grad;     // dLoss/dθ, accumulated by the backward passes (trainable only)
  std::vector<uint8_t> owned;  // bytes of `stored` when the param was created in memory
  std::vector<float> widened;  // float32 copy of a frozen non-F32 tensor (small ones only)

  int64_t numel() const { return shape_numel(shape); }
  // The master copy as an F32 view when trainable, else the stored tensor.
  TensorView view() const;
  // Float32 values: the master copy, the stored F32 bytes, or (frozen F16/BF16) a widened
  // copy made on first use. Meant for small tensors (norm weights, biases, embeddings).
  const float* f32();
  // Gradient buffer, or nullptr when frozen (backward passes skip dW then).
  float* grad_ptr() { return trainable ? grad.data() : nullptr; }
};

class ParamSet {
 public:
  ParamSet() = default;
  // Every tensor of a model folder's weights (the store is kept alive by this object).
  explicit ParamSet(io::WeightStore store);
  ParamSet(const ParamSet&) = delete;
  ParamSet& operator=(const ParamSet&) = delete;
  ParamSet(ParamSet&&) = default;
  ParamSet& operator=(ParamSet&&) = default;

  // A tensor created in memory (benchmarks, tests), stored as `dtype` (F32/F16/BF16).
  Param& add(const std::string& key, const Shape& shape, const std::vector<float>& values,
             DType dtype = DType::kF32);

  bool has(const std::string& key) const { return params_.count(key) > 0; }
  // IoError naming the key when absent; ShapeError when `expected` is given and differs.
  Param& at(const std::string& key);
  Param& require(const std::string& key, const Shape& expected);

  // Marks trainable every key starting with one of `prefixes` and with none of `excluded`;
  // everything else frozen. Allocates master copies and zeroed gradients; frees them for
  // params that become frozen. Returns the number of trainable tensors.
  int set_trainable(const std::vector<std::string>& prefixes,
                    const std::vector<std::string>& excluded = {});

  // Trainable params in key order.
  std::vector<Param*> trainable();
  std::vector<const Param*> all() const;
  void zero_grad();
  // Σ over trainable params of ‖grad‖² (double accumulation).
  double grad_sq_norm() const;
  int64_t trainable_numel() const;

  const io::WeightStore& store() const { return store_; }

 private:
  io::WeightStore store_;
  std::map<std::string, Param> params_;  // node-based: Param addresses never move
};

}  // namespace dsvl::train
