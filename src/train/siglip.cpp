#include "train/siglip.h"

#include <algorithm>

#include "core/threadpool.h"
#include "train/layers.h"

namespace dsvl::train {
namespace {

// im2col for a stride = kernel conv: one row per patch, columns (channel, ky, kx) like the
// flattened conv weight [width, 3, p, p].
template <typename T>
void extract_patches(const T* pixels, int64_t N, const SiglipDims& d, T* patches) {
  const int p = d.patch, g = d.grid(), S = d.image_size, cols = 3 * p * p;
  parallel_for(N * g, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / g, gy = r % g;
      for (int gx = 0; gx < g; ++gx) {
        T* dst = patches + ((n * g + gy) * g + gx) * cols;
        for (int c = 0; c < 3; ++c)
          for (int ky = 0; ky < p; ++ky) {
            const T* src = pixels + ((n * 3 + c) * S + gy * p + ky) * S + gx * p;
            std::copy(src, src + p, dst + (c * p + ky) * p);
          }
      }
    }
  });
}

template <typename T>
void block_forward(const SiglipBlockRef<T>& w, const SiglipDims& d, const Segments& seg,
                   SiglipBlockActs<T>& s, T* y) {
  const int64_t M = seg.total(), C = d.width, F = w.fc1.out();
  const T* x = s.x.data();
  layernorm_forward(x, M, C, w.norm1_w, w.norm1_b, d.eps, sized(s.a, M * C), sized(s.mean1, M),
                    sized(s.rstd1, M));
  T* qkv = sized(s.qkv, M * 3 * C);
  linear_forward(s.a.data(), M, w.qkv, qkv);
  const AttnDims ad{d.n_heads, d.head_dim(), false};
  attention_forward(qkv, qkv + C, qkv + 2 * C, 3 * C, seg, ad,
                    sized(s.P, attn_probs_size(seg, d.n_heads)), sized(s.o, M * C), C);
  T* h = sized(s.h, M * C);
  linear_forward(s.o.data(), M, w.proj, h);
  for (int64_t i = 0; i < M * C; ++i) h[i] += x[i];
  layernorm_forward(h, M, C, w.norm2_w, w.norm2_b, d.eps, sized(s.m, M * C), sized(s.mean2, M),
                    sized(s.rstd2, M));
  linear_forward(s.m.data(), M, w.fc1, sized(s.f, M * F));
  gelu_forward(s.f.data(), M * F, sized(s.gf, M * F));
  linear_forward(s.gf.data(), M, w.fc2, y);
  for (int64_t i = 0; i < M * C; ++i) y[i] += h[i];
}

template <typename T>
T* zeroed(std::vector<T>& v, int64_t n) {
  T* p = sized(v, n);
  std::fill(p, p + n, T(0));
  return p;
}

template <typename T>
void block_backward(const SiglipBlockRef<T>& w, const SiglipDims& d, const Segments& seg,
                    const SiglipBlockActs<T>& s, const T* dy, SiglipGrads<T>& g, T* dx) {
  const int64_t M = seg.total(), C = d.width, F = w.fc1.out();
  // MLP branch: y = h + fc2(GELU(fc1(norm2 h))).
  T* dh = sized(g.dh, M * C);
  std::copy(dy, dy + M * C, dh);
  T* dgf = zeroed(g.dgf, M * F);
  linear_backward(dy, s.gf.data(), M, w.fc2, dgf);
  T* df = zeroed(g.df, M * F);
  gelu_backward(dgf, s.f.data(), M * F, df);
  T* dm = zeroed(g.dm, M * C);
  linear_backward(df, s.m.data(), M, w.fc1, dm);
  layernorm_backward(dm, s.h.data(), s.mean2.data(), s.rstd2.data(), M, C, w.norm2_w, w.norm2_b,
                     dh);
  // Attention branch: h = x + proj(attn(qkv(norm1 x))).
  T* dout = zeroed(g.dout, M * C);
  linear_backward(dh, s.o.data(), M, w.proj, dout);
  T* dqkv = zeroed(g.dqkv, M * 3 * C);
  const AttnDims ad{d.n_heads, d.head_dim(), false};
  const T* qkv = s.qkv.data();
  attention_backward(dout, C, qkv, qkv + C, qkv + 2 * C, 3 * C, s.P.data(), seg, ad, dqkv, dqkv + C,
                     dqkv + 2 * C);
  T* da = zeroed(g.da, M * C);
  linear_backward(dqkv, s.a.data(), M, w.qkv, da);
  for (int64_t i = 0; i < M * C; ++i) dx[i] += dh[i];
  layernorm_backward(da, s.x.data(), s.mean1.data(), s.rstd1.data(), M, C, w.norm1_w, w.norm1_b,
                     dx);
}

}  // namespace

template <typename T>
void siglip_forward(const SiglipRef<T>& w, const T* pixels, int64_t N, SiglipActs<T>& acts, T* out,
                    bool save) {
  const SiglipDims& d = w.dims;
  const int64_t Tn = d.n_tokens(), C = d.width, M = N * Tn;
  acts.n_images = N;
  acts.seg = Segments{};
  for (int64_t n = 0; n < N; ++n) acts.seg.add(Tn);
  const size_t n_sets = save ? w.blocks.size() : std::min<size_t>(1, w.blocks.size());
  acts.blocks.resize(n_sets);
  T* x = sized(acts.blocks.empty() ? acts.x_final : acts.blocks[0].x, M * C);
  extract_patches(pixels, N, d, sized(acts.patches, M * w.patch_embed.in()));
  linear_forward(acts.patches.data(), M, w.patch_embed, x);
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t c = 0; c < C; ++c) x[m * C + c] += w.pos_embed.v[(m % Tn) * C + c];
  });
  std::vector<T> tmp;
  for (size_t b = 0; b < w.blocks.size(); ++b) {
    SiglipBlockActs<T>& s = acts.blocks[save ? b : 0];
    T* y;
    if (b + 1 == w.blocks.size()) {
      y = sized(acts.x_final, M * C);
    } else if (save) {
      y = sized(acts.blocks[b + 1].x, M * C);
    } else {
      y = sized(tmp, M * C);
    }
    block_forward(w.blocks[b], d, acts.seg, s, y);
    if (!save && y == tmp.data()) std::swap(s.x, tmp);
  }
  layernorm_forward(acts.x_final.data(), M, C, w.norm_w, w.norm_b, d.eps, out,
                    sized(acts.mean_f, M), sized(acts.rstd_f, M));
}

template <typename T>
void siglip_backward(const SiglipRef<T>& w, SiglipActs<T>& acts, const T* dout) {
  const SiglipDims& d = w.dims;
  const int64_t Tn = d.n_tokens(), C = d.width, M = acts.n_images * Tn;
  SiglipGrads<T>& g = acts.grads;
  T* dcur = zeroed(g.dcur, M * C);
  T* dnext = sized(g.dnext, M * C);
  layernorm_backward(dout, acts.x_final.data(), acts.mean_f.data(), acts.rstd_f.data(), M, C,
                     w.norm_w, w.norm_b, dcur);
  for (size_t b = w.blocks.size(); b-- > 0;) {
    std::fill(dnext, dnext + M * C, T(0));
    block_backward(w.blocks[b], d, acts.seg, acts.blocks[b], dcur, g, dnext);
    std::swap(dcur, dnext);
  }
  if (w.pos_embed.dv)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < C; ++c) w.pos_embed.dv[(m % Tn) * C + c] += dcur[m * C + c];
  linear_backward(static_cast<const T*>(dcur), acts.patches.data(), M, w.patch_embed,
                  static_cast<T*>(nullptr));
}

template void siglip_forward(const SiglipRef<float>&, const float*, int64_t, SiglipActs<float>&,
                             float*, bool);
template void siglip_forward(const SiglipRef<double>&, const double*, int64_t, SiglipActs<double>&,
                             double*, bool);
template void siglip_backward(const SiglipRef<float>&, SiglipActs<float>&, const float*);
template void siglip_backward(const SiglipRef<double>&, SiglipActs<double>&, const double*);

}  // namespace dsvl::train
