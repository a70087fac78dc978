#include "llm/layers.h"

#include "kernels/cpu/causal_attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rmsnorm.h"

namespace dsvl::llm {
namespace {

// Copies the piece's new keys/values (rows of ws.k / ws.v, heads side by side) into its cache
// at positions pos0 … pos0 + n_rows − 1.
void store_kv(const Piece& p, int layer, const io::LlmConfig& c, const Workspace& ws) {
  const int d = c.head_dim();
  const int64_t width = int64_t(c.num_key_value_heads) * d;
  const KvView& kv = *p.kv;
  void* k = kv.layer_k(layer);
  void* v = kv.layer_v(layer);
  for (int g = 0; g < c.num_key_value_heads; ++g)
    for (int64_t r = 0; r < p.n_rows; ++r) {
      const int64_t src = (p.row0 + r) * width + int64_t(g) * d;
      if (kv.dtype == DType::kBF16) {  // keys packed, values in lane blocks
        kernels::kv_store_packed(ws.k.data() + src, d,
                                 static_cast<uint16_t*>(kv.at(k, g * kv.k_head_stride)),
                                 p.pos0 + r);
        kernels::kv_store_values(ws.v.data() + src, d,
                                 static_cast<uint16_t*>(kv.at(v, g * kv.head_stride())),
                                 kv.capacity, p.pos0 + r);
      } else {
        const int64_t dst = int64_t(g) * kv.head_stride() + (p.pos0 + r) * d;
        kernels::kv_store(ws.k.data() + src, d, kv.at(k, dst), kv.dtype);
        kernels::kv_store(ws.v.data() + src, d, kv.at(v, dst), kv.dtype);
      }
    }
}

}  // namespace

void attention_forward(const LayerWeights& w, int layer, const io::LlmConfig& c,
                       const kernels::RopeTable& rope, std::span<const Piece> pieces,
                       int64_t n_rows, Workspace& ws, kernels::Precision p) {
  const int64_t H = c.hidden_size;
  const int64_t KV = int64_t(c.num_key_value_heads) * c.head_dim();
  kernels::rmsnorm(ws.x.data(), n_rows, H, w.input_layernorm.data(), float(c.rms_norm_eps),
                   ws.xn.data());
  kernels::linear(ws.xn.data(), n_rows, w.q_proj, nullptr, ws.q.data(), p);
  kernels::linear(ws.xn.data(), n_rows, w.k_proj, nullptr, ws.k.data(), p);
  kernels::linear(ws.xn.data(), n_rows, w.v_proj, nullptr, ws.v.data(), p);

  ws.jobs.clear();
  for (const Piece& pc : pieces) {
    kernels::rope_apply(ws.q.data() + pc.row0 * H, pc.n_rows, H, c.num_attention_heads, pc.pos0,
                        rope);
    kernels::rope_apply(ws.k.data() + pc.row0 * KV, pc.n_rows, KV, c.num_key_value_heads, pc.pos0,
                        rope);
    store_kv(pc, layer, c, ws);
    ws.jobs.push_back({ws.q.data() + pc.row0 * H, H, ws.attn.data() + pc.row0 * H, H, pc.n_rows,
                       pc.pos0, pc.kv->layer_k(layer), pc.kv->layer_v(layer), pc.kv->head_stride(),
                       pc.kv->dtype, pc.kv->k_packed(), pc.kv->k_head_stride});
  }
  kernels::causal_attention(ws.jobs, {c.num_attention_heads, c.num_key_value_heads, c.head_dim()},
                            ws.attention);

  kernels::linear_add(ws.attn.data(), n_rows, w.o_proj, ws.x.data(), p);  // + residual
}

void mlp_forward(const LayerWeights& w, const io::LlmConfig& c, int64_t n_rows, Workspace& ws,
                 kernels::Precision p) {
  const int64_t H = c.hidden_size;
  kernels::rmsnorm(ws.x.data(), n_rows, H, w.post_attention_layernorm.data(), float(c.rms_norm_eps),
                   ws.xn.data());
  kernels::linear_swiglu(ws.xn.data(), n_rows, w.gate_proj, w.up_proj, ws.gate.data(), ws.up.data(),
                         p);
  kernels::linear_add(ws.gate.data(), n_rows, w.down_proj, ws.x.data(), p);  // + residual
}

void block_forward(const LayerWeights& w, int layer, const io::LlmConfig& c,
                   const kernels::RopeTable& rope, std::span<const Piece> pieces, int64_t n_rows,
                   Workspace& ws, kernels::Precision p) {
  attention_forward(w, layer, c, rope, pieces, n_rows, ws, p);
  mlp_forward(w, c, n_rows, ws, p);
}

}  // namespace dsvl::llm
