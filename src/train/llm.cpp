#include "train/llm.h"

#include <algorithm>

#include "core/error.h"
#include "train/layers.h"

namespace dsvl::train {

template <typename T>
void embed_forward(const int64_t* ids, const uint8_t* is_image, int64_t M,
                   const LinearRef<T>& table, const T* image_rows, T* out) {
  const int64_t D = table.in(), V = table.out();
  int64_t img = 0;
  for (int64_t m = 0; m < M; ++m) {
    if (is_image && is_image[m]) {
      if (!image_rows) throw ShapeError("embed: image position without image embeddings");
      std::copy(image_rows + img * D, image_rows + (img + 1) * D, out + m * D);
      ++img;
      continue;
    }
    if (ids[m] < 0 || ids[m] >= V)
      throw RequestError("token id " + std::to_string(ids[m]) + " outside the vocabulary [0, " +
                         std::to_string(V) + ")");
    weight_row(table, ids[m], out + m * D);
  }
}

template <typename T>
void embed_backward(const T* d, const int64_t* ids, const uint8_t* is_image, int64_t M,
                    const LinearRef<T>& table, T* d_image_rows) {
  const int64_t D = table.in();
  int64_t img = 0;
  for (int64_t m = 0; m < M; ++m) {
    const T* dr = d + m * D;
    if (is_image && is_image[m]) {
      if (d_image_rows) std::copy(dr, dr + D, d_image_rows + img * D);
      ++img;
    } else if (table.dw) {
      T* g = table.dw + ids[m] * D;
      for (int64_t j = 0; j < D; ++j) g[j] += dr[j];
    }
  }
}

template <typename T>
void llm_block_forward(const LlmLayerRef<T>& w, const LlmDims& d, LlmActs<T>& acts,
                       LlmLayerActs<T>& s, T* y) {
  const int64_t M = acts.seg.total(), D = d.hidden, F = d.ffn;
  const T* x = s.x.data();
  rmsnorm_forward(x, M, D, w.input_layernorm, d.eps, sized(s.a, M * D), sized(s.rstd1, M));
  linear_forward(s.a.data(), M, w.q_proj, sized(s.q, M * D));
  linear_forward(s.a.data(), M, w.k_proj, sized(s.k, M * D));
  linear_forward(s.a.data(), M, w.v_proj, sized(s.v, M * D));
  rope_forward(s.q.data(), M, D, d.n_heads, acts.pos.data(), acts.rope);
  rope_forward(s.k.data(), M, D, d.n_heads, acts.pos.data(), acts.rope);
  const AttnDims ad{d.n_heads, d.head_dim(), true};
  attention_forward(s.q.data(), s.k.data(), s.v.data(), D, acts.seg, ad,
                    sized(s.P, attn_probs_size(acts.seg, d.n_heads)), sized(s.o, M * D), D);
  T* h = sized(s.h, M * D);
  linear_forward(s.o.data(), M, w.o_proj, h);
  for (int64_t i = 0; i < M * D; ++i) h[i] += x[i];
  rmsnorm_forward(h, M, D, w.post_attention_layernorm, d.eps, sized(s.m, M * D), sized(s.rstd2, M));
  linear_forward(s.m.data(), M, w.gate_proj, sized(s.g, M * F));
  linear_forward(s.m.data(), M, w.up_proj, sized(s.u, M * F));
  swiglu_forward(s.g.data(), s.u.data(), M * F, sized(s.act, M * F));
  linear_forward(s.act.data(), M, w.down_proj, y);
  for (int64_t i = 0; i < M * D; ++i) y[i] += h[i];
}

template <typename T>
void llm_block_backward(const LlmLayerRef<T>& w, const LlmDims& d, const LlmActs<T>& acts,
                        const LlmLayerActs<T>& s, const T* dy, LlmGrads<T>& g, T* dx) {
  const int64_t M = acts.seg.total(), D = d.hidden, F = d.ffn;
  auto zeroed = [](std::vector<T>& v, int64_t n) {
    T* p = sized(v, n);
    std::fill(p, p + n, T(0));
    return p;
  };
  // MLP branch: y = h + down(silu(gate m) ⊙ up m), m = norm2(h).
  T* dh = sized(g.dh, M * D);
  std::copy(dy, dy + M * D, dh);
  T* dact = zeroed(g.dact, M * F);
  linear_backward(dy, s.act.data(), M, w.down_proj, dact);
  T* dg = zeroed(g.dg, M * F);
  T* du = zeroed(g.du, M * F);
  swiglu_backward(dact, s.g.data(), s.u.data(), M * F, dg, du);
  T* dm = zeroed(g.dm, M * D);
  linear_backward(dg, s.m.data(), M, w.gate_proj, dm);
  linear_backward(du, s.m.data(), M, w.up_proj, dm);
  rmsnorm_backward(dm, s.h.data(), s.rstd2.data(), M, D, w.post_attention_layernorm, dh);
  // Attention branch: h = x + o_proj(attn(rope(q a), rope(k a), v a)), a = norm1(x).
  T* dout = zeroed(g.dout, M * D);
  linear_backward(dh, s.o.data(), M, w.o_proj, dout);
  T* dq = zeroed(g.dq, M * D);
  T* dk = zeroed(g.dk, M * D);
  T* dv = zeroed(g.dv, M * D);
  const AttnDims ad{d.n_heads, d.head_dim(), true};
  attention_backward(dout, D, s.q.data(), s.k.data(), s.v.data(), D, s.P.data(), acts.seg, ad, dq,
                     dk, dv);
  rope_backward(dq, M, D, d.n_heads, acts.pos.data(), acts.rope);
  rope_backward(dk, M, D, d.n_heads, acts.pos.data(), acts.rope);
  T* da = zeroed(g.da, M * D);
  linear_backward(dq, s.a.data(), M, w.q_proj, da);
  linear_backward(dk, s.a.data(), M, w.k_proj, da);
  linear_backward(dv, s.a.data(), M, w.v_proj, da);
  for (int64_t i = 0; i < M * D; ++i) dx[i] += dh[i];
  rmsnorm_backward(da, s.x.data(), s.rstd1.data(), M, D, w.input_layernorm, dx);
}

template <typename T>
void llm_forward(const LlmRef<T>& w, const Segments& seg, const T* embeds, LlmActs<T>& acts) {
  const LlmDims& d = w.dims;
  const int64_t M = seg.total(), D = d.hidden;
  acts.seg = seg;
  acts.pos.resize(size_t(M));
  int64_t max_len = 1;
  for (size_t s = 0; s < seg.len.size(); ++s) {
    for (int64_t i = 0; i < seg.len[s]; ++i) acts.pos[size_t(seg.start[s] + i)] = i;
    max_len = std::max(max_len, seg.len[s]);
  }
  if (int64_t(acts.rope.cos.size()) < max_len * d.head_dim() || acts.rope.head_dim != d.head_dim())
    acts.rope.build(max_len, d.head_dim(), d.rope_theta);
  acts.layers.resize(w.layers.size());
  std::copy(embeds, embeds + M * D,
            sized(acts.layers.empty() ? acts.x_final : acts.layers[0].x, M * D));
  for (size_t l = 0; l < w.layers.size(); ++l) {
    T* y = sized(l + 1 < w.layers.size() ? acts.layers[l + 1].x : acts.x_final, M * D);
    llm_block_forward(w.layers[l], d, acts, acts.layers[l], y);
  }
  rmsnorm_forward(acts.x_final.data(), M, D, w.norm, d.eps, sized(acts.h_final, M * D),
                  sized(acts.rstd_final, M));
}

template <typename T>
void llm_backward(const LlmRef<T>& w, const LlmActs<T>& acts, const T* dh_final, LlmGrads<T>& g,
                  T* d_embeds) {
  const LlmDims& d = w.dims;
  const int64_t M = acts.seg.total(), D = d.hidden;
  // The residual-stream gradient ping-pongs between two buffers, layer by layer.
  T* dcur = sized(g.dx, M * D);
  T* dnext = sized(g.dnext, M * D);
  std::fill(dcur, dcur + M * D, T(0));
  rmsnorm_backward(dh_final, acts.x_final.data(), acts.rstd_final.data(), M, D, w.norm, dcur);
  for (size_t l = w.layers.size(); l-- > 0;) {
    std::fill(dnext, dnext + M * D, T(0));
    llm_block_backward(w.layers[l], d, acts, acts.layers[l], dcur, g, dnext);
    std::swap(dcur, dnext);
  }
  for (int64_t i = 0; i < M * D; ++i) d_embeds[i] += dcur[i];
}

template void embed_forward(const int64_t*, const uint8_t*, int64_t, const LinearRef<float>&,
                            const float*, float*);
template void embed_forward(const int64_t*, const uint8_t*, int64_t, const LinearRef<double>&,
                            const double*, double*);
template void embed_backward(const float*, const int64_t*, const uint8_t*, int64_t,
                             const LinearRef<float>&, float*);
template void embed_backward(const double*, const int64_t*, const uint8_t*, int64_t,
                             const LinearRef<double>&, double*);
template void llm_block_forward(const LlmLayerRef<float>&, const LlmDims&, LlmActs<float>&,
                                LlmLayerActs<float>&, float*);
template void llm_block_forward(const LlmLayerRef<double>&, const LlmDims&, LlmActs<double>&,
                                LlmLayerActs<double>&, double*);
template void llm_block_backward(const LlmLayerRef<float>&, const LlmDims&, const LlmActs<float>&,
                                 const LlmLayerActs<float>&, const float*, LlmGrads<float>&,
                                 float*);
template void llm_block_backward(const LlmLayerRef<double>&, const LlmDims&, const LlmActs<double>&,
                                 const LlmLayerActs<double>&, const double*, LlmGrads<double>&,
                                 double*);
template void llm_forward(const LlmRef<float>&, const Segments&, const float*, LlmActs<float>&);
template void llm_forward(const LlmRef<double>&, const Segments&, const double*, LlmActs<double>&);
template void llm_backward(const LlmRef<float>&, const LlmActs<float>&, const float*,
                           LlmGrads<float>&, float*);
template void llm_backward(const LlmRef<double>&, const LlmActs<double>&, const double*,
                           LlmGrads<double>&, double*);

}  // namespace dsvl::train
