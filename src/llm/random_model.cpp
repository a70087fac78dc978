#include "llm/random_model.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"

namespace dsvl::llm {
namespace {

// splitmix64: a counter-based generator, so tensors fill in parallel reproducibly.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// n values uniform with mean `mean` and standard deviation `stddev`.
std::vector<float> random_values(int64_t n, float mean, float stddev, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  const float a = stddev * std::sqrt(3.0f);
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const double u = double(mix(seed * 0x100000001b3ull + uint64_t(i)) >> 11) * 0x1.0p-53;
          v[size_t(i)] = mean + a * float(2.0 * u - 1.0);
        }
      },
      1 << 16);
  return v;
}

}  // namespace

void InMemoryWeights::add(const std::string& key, DType dtype, const Shape& shape,
                          const std::vector<float>& values) {
  if (int64_t(values.size()) != shape_numel(shape))
    throw ShapeError(key + ": " + std::to_string(values.size()) + " values for shape " +
                     shape_str(shape));
  Entry& e = tensors_[key];
  e.bytes.resize(values.size() * dtype_size(dtype));
  if (dtype == DType::kF32) {
    std::memcpy(e.bytes.data(), values.data(), e.bytes.size());
  } else if (dtype == DType::kF16 || dtype == DType::kBF16) {
    uint16_t* h = reinterpret_cast<uint16_t*>(e.bytes.data());
    for (size_t i = 0; i < values.size(); ++i)
      h[i] = dtype == DType::kF16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
  } else {
    throw ShapeError(key + ": in-memory weights must be F32, F16 or BF16");
  }
  e.view = TensorView{dtype, shape, e.bytes.data()};
}

const TensorView& InMemoryWeights::get(const std::string& key) const {
  auto it = tensors_.find(key);
  if (it == tensors_.end()) throw IoError("in-memory weights: tensor " + key + " not found");
  return it->second.view;
}

WeightSource InMemoryWeights::source() const {
  return [this](const std::string& key, const Shape& shape) -> const TensorView& {
    const TensorView& v = get(key);
    if (v.shape != shape)
      throw ShapeError("in-memory weights: " + key + ": shape " + shape_str(v.shape) +
                       ", expected " + shape_str(shape));
    return v;
  };
}

std::shared_ptr<InMemoryWeights> make_random_llm_weights(const io::LlmConfig& c, DType dtype,
                                                         uint64_t seed) {
  auto w = std::make_shared<InMemoryWeights>();
  const int64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t KV = int64_t(c.num_key_value_heads) * c.head_dim();
  uint64_t n = 0;
  auto linear = [&](const std::string& key, int64_t rows, int64_t cols) {
    w->add(std::string(kLlmPrefix) + key, dtype, {rows, cols},
           random_values(rows * cols, 0.0f, 1.0f / std::sqrt(float(cols)), seed + 7919 * ++n));
  };
  auto norm = [&](const std::string& key) {
    w->add(std::string(kLlmPrefix) + key, dtype, {H},
           random_values(H, 1.0f, 0.1f, seed + 7919 * ++n));
  };
  w->add(std::string(kLlmPrefix) + "model.embed_tokens.weight", dtype, {V, H},
         random_values(V * H, 0.0f, 1.0f, seed + 7919 * ++n));
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    linear(p + "self_attn.q_proj.weight", H, H);
    linear(p + "self_attn.k_proj.weight", KV, H);
    linear(p + "self_attn.v_proj.weight", KV, H);
    linear(p + "self_attn.o_proj.weight", H, H);
    linear(p + "mlp.gate_proj.weight", F, H);
    linear(p + "mlp.up_proj.weight", F, H);
    linear(p + "mlp.down_proj.weight", H, F);
    norm(p + "input_layernorm.weight");
    norm(p + "post_attention_layernorm.weight");
  }
  norm("model.norm.weight");
  linear("lm_head.weight", V, H);
  return w;
}

std::unique_ptr<Llm> load_in_memory(const io::LlmConfig& config,
                                    std::shared_ptr<const InMemoryWeights> weights,
                                    kernels::Precision precision) {
  io::ModelConfig mc;
  mc.llm = config;
  const WeightSource source = weights->source();
  return Llm::load(mc, source, std::move(weights), 0, precision);
}

}  // namespace dsvl::llm
