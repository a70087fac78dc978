#include "llm/llm.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rmsnorm.h"
#include "llm/layers.h"

namespace dsvl::llm {
namespace {

// Row `row` of a float-typed [rows, cols] view, widened to float32.
void widen_row(const TensorView& t, int64_t row, int64_t cols, float* out) {
  const int64_t off = row * cols;
  switch (t.dtype) {
    case DType::kF32:
      std::memcpy(out, static_cast<const float*>(t.data) + off, sizeof(float) * size_t(cols));
      break;
    case DType::kBF16: {
      const uint16_t* s = static_cast<const uint16_t*>(t.data) + off;
      for (int64_t i = 0; i < cols; ++i) out[i] = bf16_to_f32(s[i]);
      break;
    }
    case DType::kF16: {
      const uint16_t* s = static_cast<const uint16_t*>(t.data) + off;
      for (int64_t i = 0; i < cols; ++i) out[i] = f16_to_f32(s[i]);
      break;
    }
    default:
      throw ShapeError(std::string("embedding: dtype ") + dtype_name(t.dtype));
  }
}

}  // namespace

std::unique_ptr<Llm> Llm::load(const io::ModelConfig& config, const io::WeightStore& store,
                               int64_t max_positions, kernels::Precision precision, bool in_memory,
                               bool repack) {
  // A copy of the store shares its mmapped files; it keeps the views valid.
  auto kept = std::make_shared<io::WeightStore>(store);
  const io::WeightStore* s = kept.get();
  return load(
      config,
      [s](const std::string& key, const Shape& shape) -> const TensorView& {
        return s->require(key, shape);
      },
      kept, max_positions, precision, in_memory, repack);
}

std::unique_ptr<Llm> Llm::load(const io::ModelConfig& config, const WeightSource& source,
                               std::shared_ptr<const void> keepalive, int64_t max_positions,
                               kernels::Precision precision, bool in_memory, bool repack) {
  std::unique_ptr<Llm> m(new Llm(precision, in_memory, repack));
  m->config_ = config.llm;
  m->image_tokens_ = config.chat.num_image_tokens;
  m->weights_ = bind_llm_weights(config.llm, source, &m->arena_);
  const int64_t max_pos = config.llm.max_position_embeddings;
  const int64_t n_pos = max_positions > 0 ? std::min(max_positions, max_pos) : max_pos;
  m->rope_ = kernels::make_rope_table(config.llm.head_dim(), config.llm.rope_theta, n_pos);
  m->keepalive_ = std::move(keepalive);
  return m;
}

void Llm::embed(const int32_t* ids, int64_t n, float* out) const {
  const int64_t H = config_.hidden_size;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = std::max<int32_t>(ids[i], 0);
    if (id >= config_.vocab_size)
      throw RequestError("token id " + std::to_string(id) + " at position " + std::to_string(i) +
                         " is outside the vocabulary of " + std::to_string(config_.vocab_size));
    widen_row(weights_.embed_tokens, id, H, out + i * H);
  }
}

Tensor Llm::prepare_inputs_embeds(const int32_t* ids, int64_t n, int32_t image_token_id,
                                  const float* image_embeds, int64_t n_images) const {
  const int64_t H = config_.hidden_size;
  const int64_t n_image_pos = std::count(ids, ids + n, image_token_id);
  if (n_image_pos != n_images * image_tokens_)
    throw RequestError("prompt has " + std::to_string(n_image_pos) + " image-token positions (id " +
                       std::to_string(image_token_id) + ") but " + std::to_string(n_images) +
                       " image(s) × " + std::to_string(image_tokens_) + " = " +
                       std::to_string(n_images * image_tokens_) + " image embeddings");
  Tensor out({n, H});
  embed(ids, n, out.ptr());
  int64_t next = 0;  // image embedding row, in image order
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] == image_token_id)
      std::memcpy(out.ptr() + i * H, image_embeds + (next++) * H, sizeof(float) * size_t(H));
  return out;
}

void Llm::check_segments(std::span<const Segment> segments) const {
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    if (!s.kv) throw Error(ErrorKind::kInternal, "forward: segment without a KV cache");
    if (s.kv->n_layers != config_.num_hidden_layers ||
        s.kv->n_kv_heads != config_.num_key_value_heads || s.kv->head_dim != config_.head_dim())
      throw Error(ErrorKind::kInternal, "forward: KV cache made for another model");
    if (s.n_tokens < 0 || s.first_logit < 0 || s.first_logit > s.n_tokens)
      throw Error(ErrorKind::kInternal, "forward: bad segment row counts");
    if (s.kv->n_past + s.n_tokens > s.kv->capacity)
      throw LimitError("KV cache full: " + std::to_string(s.kv->n_past) + " cached + " +
                       std::to_string(s.n_tokens) + " new tokens exceed its capacity of " +
                       std::to_string(s.kv->capacity));
    if (s.kv->capacity > rope_.n_pos)
      throw LimitError("KV cache capacity " + std::to_string(s.kv->capacity) + " exceeds the " +
                       std::to_string(rope_.n_pos) + " positions the model was loaded for");
    for (size_t j = 0; j < i; ++j)
      if (segments[j].kv == s.kv && s.n_tokens > 0 && segments[j].n_tokens > 0)
        throw Error(ErrorKind::kInternal, "forward: one KV cache in two segments");
  }
}

void Llm::chunk_forward(int64_t n_rows, Workspace& ws) const {
  for (int l = 0; l < config_.num_hidden_layers; ++l)
    block_forward(weights_.layers[size_t(l)], l, config_, rope_, ws.pieces, n_rows, ws,
                  precision());
}

// Final norm and lm_head on the chunk rows that want logits (gathered into ws.xn).
int64_t Llm::chunk_logits(Workspace& ws, float* logits) const {
  const int64_t H = config_.hidden_size;
  int64_t m = 0;
  for (const Piece& p : ws.pieces)
    for (int64_t r = p.first_logit; r < p.n_rows; ++r, ++m)
      std::memcpy(ws.xn.data() + m * H, ws.x.data() + (p.row0 + r) * H, sizeof(float) * size_t(H));
  if (m == 0) return 0;
  kernels::rmsnorm(ws.xn.data(), m, H, weights_.norm.data(), float(config_.rms_norm_eps),
                   ws.xn.data());
  kernels::linear(ws.xn.data(), m, weights_.lm_head, nullptr, logits, precision());
  return m;
}

void Llm::forward(const float* x, std::span<const Segment> segments, Workspace& ws,
                  float* logits) const {
  check_segments(segments);
  const int64_t H = config_.hidden_size;
  size_t si = 0;
  int64_t off = 0;  // rows of segment si already assigned to a chunk
  int64_t x_row = 0;
  int64_t total = 0;
  for (const Segment& s : segments) total += s.n_tokens;
  const int64_t chunk_rows = balanced_chunk_rows(total, ws.max_rows);
  while (si < segments.size()) {
    // Fill one chunk with pieces of consecutive segments.
    ws.pieces.clear();
    int64_t rows = 0;
    while (rows < chunk_rows && si < segments.size()) {
      const Segment& s = segments[si];
      const int64_t take = std::min(chunk_rows - rows, s.n_tokens - off);
      if (take > 0)
        ws.pieces.push_back({s.kv, rows, take, s.kv->n_past + off,
                             std::clamp<int64_t>(s.first_logit - off, 0, take)});
      rows += take;
      off += take;
      if (off == s.n_tokens) {
        ++si;
        off = 0;
      }
    }
    if (rows == 0) break;
    std::memcpy(ws.x.data(), x + x_row * H, sizeof(float) * size_t(rows * H));
    x_row += rows;
    chunk_forward(rows, ws);
    logits += chunk_logits(ws, logits) * config_.vocab_size;
  }
  for (const Segment& s : segments) s.kv->n_past += s.n_tokens;
}

void Llm::forward(const float* x, int64_t n, KvView& kv, Workspace& ws, int64_t first_logit,
                  float* logits) const {
  const Segment s{&kv, n, first_logit};
  forward(x, {&s, 1}, ws, logits);
}

}  // namespace dsvl::llm
