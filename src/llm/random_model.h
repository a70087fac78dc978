// Language models with random weights held in memory, at any shape: for tests of paths the
// conformance kit does not cover (grouped-query attention) and for benchmarks at the real
// layer shapes without a checkpoint. Initialisation follows the kit: linear weights with
// variance 1/fan_in, embeddings variance 1, norm weights 1 ± ~0.1 (uniform draws of the same
// variance, for speed).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"
#include "llm/llm.h"

namespace dsvl::llm {

// Named tensors owned in memory, served as a WeightSource (shape-checked like WeightStore).
class InMemoryWeights {
 public:
  // Stores `values` converted to `dtype` (F32, F16 or BF16).
  void add(const std::string& key, DType dtype, const Shape& shape,
           const std::vector<float>& values);
  bool has(const std::string& key) const { return tensors_.count(key) > 0; }
  const TensorView& get(const std::string& key) const;
  std::vector<float> floats(const std::string& key) const { return to_float(get(key)).data; }
  void erase(const std::string& key) { tensors_.erase(key); }
  WeightSource source() const;

 private:
  struct Entry {
    TensorView view;
    std::vector<uint8_t> bytes;
  };
  std::map<std::string, Entry> tensors_;
};

// Every LLM tensor of `config` under the checkpoint names (language_model.*), random.
std::shared_ptr<InMemoryWeights> make_random_llm_weights(const io::LlmConfig& config, DType dtype,
                                                         uint64_t seed);

// Loads an Llm over in-memory weights (kept alive by the model), GEMMs at `precision`.
std::unique_ptr<Llm> load_in_memory(const io::LlmConfig& config,
                                    std::shared_ptr<const InMemoryWeights> weights,
                                    kernels::Precision precision = kernels::Precision::kF32);

}  // namespace dsvl::llm
