// Finite-difference checks of every backward function, in double precision on tiny random
// shapes: L = Σ r ⊙ y for a random r, analytic dL/dθ from the backward versus central
// differences (L(θ + h) − L(θ − h)) / 2h for every element of every input and parameter.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "train/aligner.h"
#include "train/attention.h"
#include "train/layers.h"
#include "train/llm.h"
#include "train/loss.h"
#include "train/siglip.h"

namespace dsvl::train {
namespace {

using Vec = std::vector<double>;

Vec randn(size_t n, std::mt19937& rng, double scale = 1.0, double mean = 0.0) {
  std::normal_distribution<double> nd(mean, scale);
  Vec v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// A tensor under test: its values and where the backward writes its gradient.
struct Var {
  std::string name;
  Vec* value;
  Vec* grad;
};

// fwd() computes the output y from the current values; bwd(dy) zeroes nothing itself: the
// harness zeroes every grad before calling it.
void grad_check(const std::function<Vec()>& fwd, const std::function<void(const Vec&)>& bwd,
                const std::vector<Var>& vars, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  const Vec y0 = fwd();
  const Vec r = randn(y0.size(), rng);
  auto loss = [&] {
    const Vec y = fwd();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += r[i] * y[i];
    return s;
  };
  for (const Var& v : vars) std::fill(v.grad->begin(), v.grad->end(), 0.0);
  fwd();
  bwd(r);
  for (const Var& v : vars) {
    double worst = 0;
    for (size_t j = 0; j < v.value->size(); ++j) {
      const double x = (*v.value)[j];
      const double h = 1e-5 * std::max(1.0, std::fabs(x));
      (*v.value)[j] = x + h;
      const double lp = loss();
      (*v.value)[j] = x - h;
      const double lm = loss();
      (*v.value)[j] = x;
      const double fd = (lp - lm) / (2 * h), an = (*v.grad)[j];
      const double err = std::fabs(fd - an) / std::max(1.0, std::fabs(fd));
      worst = std::max(worst, err);
      ASSERT_LT(err, 1e-6) << v.name << "[" << j << "]: finite difference " << fd << ", backward "
                           << an;
    }
    SCOPED_TRACE(v.name + " worst rel err " + std::to_string(worst));
  }
}

LinearRef<double> lin(const Vec& w, Vec& dw, int64_t out, int64_t in, const Vec* b = nullptr,
                      Vec* db = nullptr) {
  LinearRef<double> L;
  L.w = w.data();
  L.n_out = out;
  L.n_in = in;
  L.dw = dw.data();
  if (b) {
    L.b = b->data();
    L.db = db->data();
  }
  return L;
}

TEST(GradCheck, Linear) {
  std::mt19937 rng(1);
  const int64_t M = 5, K = 7, N = 3;
  Vec x = randn(M * K, rng), w = randn(N * K, rng), b = randn(N, rng);
  Vec dx(x.size()), dw(w.size()), db(b.size());
  auto L = [&] { return lin(w, dw, N, K, &b, &db); };
  grad_check(
      [&] {
        Vec y(M * N);
        linear_forward(x.data(), M, L(), y.data());
        return y;
      },
      [&](const Vec& dy) { linear_backward(dy.data(), x.data(), M, L(), dx.data()); },
      {{"x", &x, &dx}, {"w", &w, &dw}, {"b", &b, &db}});
}

TEST(GradCheck, RmsNorm) {
  std::mt19937 rng(2);
  const int64_t M = 4, D = 9;
  Vec x = randn(M * D, rng), w = randn(D, rng, 0.1, 1.0), dx(x.size()), dw(D), rstd(M);
  grad_check(
      [&] {
        Vec y(M * D);
        rmsnorm_forward(x.data(), M, D, VecRef<double>{w.data(), dw.data()}, 1e-6, y.data(),
                        rstd.data());
        return y;
      },
      [&](const Vec& dy) {
        rmsnorm_backward(dy.data(), x.data(), rstd.data(), M, D,
                         VecRef<double>{w.data(), dw.data()}, dx.data());
      },
      {{"x", &x, &dx}, {"w", &w, &dw}});
}

TEST(GradCheck, LayerNorm) {
  std::mt19937 rng(3);
  const int64_t M = 4, D = 8;
  Vec x = randn(M * D, rng), w = randn(D, rng, 0.1, 1.0), b = randn(D, rng, 0.1);
  Vec dx(x.size()), dw(D), db(D), mean(M), rstd(M);
  grad_check(
      [&] {
        Vec y(M * D);
        layernorm_forward(x.data(), M, D, VecRef<double>{w.data(), dw.data()},
                          VecRef<double>{b.data(), db.data()}, 1e-6, y.data(), mean.data(),
                          rstd.data());
        return y;
      },
      [&](const Vec& dy) {
        layernorm_backward(dy.data(), x.data(), mean.data(), rstd.data(), M, D,
                           VecRef<double>{w.data(), dw.data()}, VecRef<double>{b.data(), db.data()},
                           dx.data());
      },
      {{"x", &x, &dx}, {"w", &w, &dw}, {"b", &b, &db}});
}

TEST(GradCheck, GeluAndSwiglu) {
  std::mt19937 rng(4);
  const int64_t n = 23;
  Vec x = randn(n, rng, 2.0), dx(n);
  grad_check(
      [&] {
        Vec y(n);
        gelu_forward(x.data(), n, y.data());
        return y;
      },
      [&](const Vec& dy) { gelu_backward(dy.data(), x.data(), n, dx.data()); }, {{"x", &x, &dx}});
  Vec g = randn(n, rng, 2.0), u = randn(n, rng), dg(n), du(n);
  grad_check(
      [&] {
        Vec a(n);
        swiglu_forward(g.data(), u.data(), n, a.data());
        return a;
      },
      [&](const Vec& da) {
        swiglu_backward(da.data(), g.data(), u.data(), n, dg.data(), du.data());
      },
      {{"g", &g, &dg}, {"u", &u, &du}});
}

TEST(GradCheck, Rope) {
  std::mt19937 rng(5);
  const int64_t M = 6, H = 2, hd = 8, ld = H * hd + 3;  // padded row stride
  Vec x = randn(M * ld, rng), dx(x.size());
  std::vector<int64_t> pos = {0, 1, 2, 0, 1, 5};
  RopeTable<double> tab;
  tab.build(8, int(hd), 10000.0);
  grad_check(
      [&] {
        Vec y = x;
        rope_forward(y.data(), M, ld, int(H), pos.data(), tab);
        return y;
      },
      [&](const Vec& dy) {
        Vec d = dy;
        rope_backward(d.data(), M, ld, int(H), pos.data(), tab);
        for (size_t i = 0; i < d.size(); ++i) dx[i] += d[i];
      },
      {{"x", &x, &dx}});
}

void check_attention(bool causal, uint32_t seed) {
  std::mt19937 rng(seed);
  Segments seg;
  seg.add(5);
  seg.add(3);
  const int H = 2, hd = 4;
  const int64_t M = seg.total(), ld = 3 * H * hd;  // fused q|k|v rows, like SigLIP
  Vec qkv = randn(M * ld, rng), dqkv(qkv.size());
  Vec P(attn_probs_size(seg, H));
  const AttnDims a{H, hd, causal};
  grad_check(
      [&] {
        Vec out(M * H * hd);
        attention_forward(qkv.data(), qkv.data() + H * hd, qkv.data() + 2 * H * hd, ld, seg, a,
                          P.data(), out.data(), H * hd);
        return out;
      },
      [&](const Vec& dout) {
        attention_backward(dout.data(), H * hd, qkv.data(), qkv.data() + H * hd,
                           qkv.data() + 2 * H * hd, ld, P.data(), seg, a, dqkv.data(),
                           dqkv.data() + H * hd, dqkv.data() + 2 * H * hd);
      },
      {{"qkv", &qkv, &dqkv}}, seed);
}

TEST(GradCheck, AttentionCausalSegments) { check_attention(true, 6); }
TEST(GradCheck, AttentionFull) { check_attention(false, 7); }

TEST(GradCheck, LmHeadCrossEntropy) {
  std::mt19937 rng(8);
  const int64_t M = 6, D = 5, V = 11;
  Vec h = randn(M * D, rng), w = randn(V * D, rng), dh(h.size()), dw(w.size());
  const std::vector<int64_t> rows = {0, 2, 3, 5}, targets = {1, 10, 0, 4};
  // The "output" is the scalar loss: y = [Σ nll / n]; r scales it.
  grad_check(
      [&] {
        Vec nll(rows.size());
        const double s = lm_head_cross_entropy(h.data(), D, rows, targets, lin(w, dw, V, D), 0.0,
                                               nll.data(), static_cast<double*>(nullptr));
        return Vec{s / double(rows.size())};
      },
      [&](const Vec& dy) {
        Vec nll(rows.size());
        lm_head_cross_entropy(h.data(), D, rows, targets, lin(w, dw, V, D),
                              dy[0] / double(rows.size()), nll.data(), dh.data());
      },
      {{"h", &h, &dh}, {"w", &w, &dw}});
}

TEST(GradCheck, EmbeddingWithImageRows) {
  std::mt19937 rng(9);
  const int64_t V = 7, D = 4, M = 6;
  Vec table = randn(V * D, rng), dtable(table.size()), img = randn(2 * D, rng), dimg(img.size());
  const std::vector<int64_t> ids = {3, 5, 5, 3, 1, 5};
  const std::vector<uint8_t> is_image = {0, 1, 1, 0, 0, 0};  // id 5 at 1, 2 are image rows
  grad_check(
      [&] {
        Vec out(M * D);
        embed_forward(ids.data(), is_image.data(), M, lin(table, dtable, V, D), img.data(),
                      out.data());
        return out;
      },
      [&](const Vec& d) {
        embed_backward(d.data(), ids.data(), is_image.data(), M, lin(table, dtable, V, D),
                       dimg.data());
      },
      {{"embed_tokens", &table, &dtable}, {"image_rows", &img, &dimg}});
}

// A tiny LLaMA: every weight of every layer, the final norm and the inputs_embeds.
TEST(GradCheck, LlmDecoder) {
  std::mt19937 rng(10);
  const int D = 8, F = 12, H = 2, n_layers = 2;
  Segments seg;
  seg.add(5);
  seg.add(4);
  const int64_t M = seg.total();
  struct LayerVals {
    Vec ln1, ln2, q, k, v, o, g, u, d;
    Vec dln1, dln2, dq, dk, dv, dout, dg, du, dd;
  };
  std::vector<LayerVals> L(n_layers);
  for (auto& l : L) {
    const double s = 1.0 / std::sqrt(double(D));
    l.ln1 = randn(D, rng, 0.1, 1.0), l.ln2 = randn(D, rng, 0.1, 1.0);
    l.q = randn(D * D, rng, s), l.k = randn(D * D, rng, s), l.v = randn(D * D, rng, s);
    l.o = randn(D * D, rng, s), l.g = randn(F * D, rng, s), l.u = randn(F * D, rng, s);
    l.d = randn(D * F, rng, 1.0 / std::sqrt(double(F)));
    l.dln1.resize(D), l.dln2.resize(D), l.dq.resize(D * D), l.dk.resize(D * D);
    l.dv.resize(D * D), l.dout.resize(D * D), l.dg.resize(F * D), l.du.resize(F * D);
    l.dd.resize(D * F);
  }
  Vec norm = randn(D, rng, 0.1, 1.0), dnorm(D), x = randn(M * D, rng), dx(x.size());
  auto ref = [&] {
    LlmRef<double> w;
    w.dims = {D, F, H, 1e-6, 10000.0};
    for (auto& l : L) {
      LlmLayerRef<double> r;
      r.input_layernorm = {l.ln1.data(), l.dln1.data()};
      r.post_attention_layernorm = {l.ln2.data(), l.dln2.data()};
      r.q_proj = lin(l.q, l.dq, D, D);
      r.k_proj = lin(l.k, l.dk, D, D);
      r.v_proj = lin(l.v, l.dv, D, D);
      r.o_proj = lin(l.o, l.dout, D, D);
      r.gate_proj = lin(l.g, l.dg, F, D);
      r.up_proj = lin(l.u, l.du, F, D);
      r.down_proj = lin(l.d, l.dd, D, F);
      w.layers.push_back(r);
    }
    w.norm = {norm.data(), dnorm.data()};
    return w;
  };
  LlmActs<double> acts;
  LlmGrads<double> grads;
  std::vector<Var> vars = {{"inputs_embeds", &x, &dx}, {"norm", &norm, &dnorm}};
  for (int i = 0; i < n_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    auto& l = L[size_t(i)];
    for (auto [n, v, g] : {std::tuple{"input_layernorm", &l.ln1, &l.dln1},
                           std::tuple{"post_attention_layernorm", &l.ln2, &l.dln2},
                           std::tuple{"q_proj", &l.q, &l.dq}, std::tuple{"k_proj", &l.k, &l.dk},
                           std::tuple{"v_proj", &l.v, &l.dv}, std::tuple{"o_proj", &l.o, &l.dout},
                           std::tuple{"gate_proj", &l.g, &l.dg}, std::tuple{"up_proj", &l.u, &l.du},
                           std::tuple{"down_proj", &l.d, &l.dd}})
      vars.push_back({p + n, v, g});
  }
  grad_check(
      [&] {
        llm_forward(ref(), seg, x.data(), acts);
        return acts.h_final;
      },
      [&](const Vec& dy) { llm_backward(ref(), acts, dy.data(), grads, dx.data()); }, vars);
}

void check_aligner(bool hybrid) {
  std::mt19937 rng(hybrid ? 11 : 12);
  const int64_t N = 3, Cin = 5, E = 6;
  Vec hi = randn(N * Cin, rng), lo = randn(N * Cin, rng), dhi(hi.size()), dlo(lo.size());
  // hybrid: high_up, low_up [E/2, Cin], layers.1 [E, E]; mlp_gelu: layers.0 [E, Cin], layers.2.
  Vec w0 = randn((hybrid ? E / 2 : E) * Cin, rng), b0 = randn(hybrid ? E / 2 : E, rng);
  Vec w1 = randn(E / 2 * Cin, rng), b1 = randn(E / 2, rng);
  Vec w2 = randn(E * E, rng), b2 = randn(E, rng);
  Vec dw0(w0.size()), db0(b0.size()), dw1(w1.size()), db1(b1.size()), dw2(w2.size()),
      db2(b2.size());
  auto ref = [&] {
    AlignerRef<double> a;
    a.hybrid = hybrid;
    if (hybrid) {
      a.high_up_proj = lin(w0, dw0, E / 2, Cin, &b0, &db0);
      a.low_up_proj = lin(w1, dw1, E / 2, Cin, &b1, &db1);
    } else {
      a.layers.push_back(lin(w0, dw0, E, Cin, &b0, &db0));
    }
    a.layers.push_back(lin(w2, dw2, E, E, &b2, &db2));
    return a;
  };
  AlignerActs<double> acts;
  std::vector<Var> vars = {{"low", &lo, &dlo},
                           {"w0", &w0, &dw0},
                           {"b0", &b0, &db0},
                           {"w2", &w2, &dw2},
                           {"b2", &b2, &db2}};
  if (hybrid) {
    vars.push_back({"high", &hi, &dhi});
    vars.push_back({"w1", &w1, &dw1});
    vars.push_back({"b1", &b1, &db1});
  }
  grad_check(
      [&] {
        Vec out(N * E);
        aligner_forward(ref(), hybrid ? hi.data() : nullptr, lo.data(), N, acts, out.data());
        return out;
      },
      [&](const Vec& d) {
        aligner_backward(ref(), hybrid ? hi.data() : nullptr, lo.data(), N, acts, d.data(),
                         hybrid ? dhi.data() : nullptr, dlo.data());
      },
      vars);
}

TEST(GradCheck, AlignerMlpGelu) { check_aligner(false); }
TEST(GradCheck, AlignerHybridSplit) { check_aligner(true); }

// A tiny SigLIP: 8×8 images, 4×4 patches (4 tokens), 2 images, 2 blocks.
TEST(GradCheck, Siglip) {
  std::mt19937 rng(13);
  SiglipDims d{8, 2, 4, 8, 1e-6};
  const int64_t C = d.width, P = 3 * d.patch * d.patch, Tn = d.n_tokens(), F = 2 * C, N = 2;
  Vec pix = randn(N * 3 * 8 * 8, rng);
  Vec pw = randn(C * P, rng, 0.2), pb = randn(C, rng, 0.1), pos = randn(Tn * C, rng, 0.2);
  Vec nw = randn(C, rng, 0.1, 1.0), nb = randn(C, rng, 0.1);
  Vec dpw(pw.size()), dpb(pb.size()), dpos(pos.size()), dnw(C), dnb(C);
  struct BlockVals {
    Vec v[12], g[12];  // n1w n1b n2w n2b qkv_w qkv_b proj_w proj_b fc1_w fc1_b fc2_w fc2_b
  };
  std::vector<BlockVals> B(2);
  const int64_t sizes[12] = {C, C, C, C, 3 * C * C, 3 * C, C * C, C, F * C, F, C * F, C};
  for (auto& b : B)
    for (int i = 0; i < 12; ++i) {
      b.v[i] = i < 4 && i % 2 == 0 ? randn(size_t(sizes[i]), rng, 0.1, 1.0)
                                   : randn(size_t(sizes[i]), rng, 0.3);
      b.g[i].assign(size_t(sizes[i]), 0.0);
    }
  auto ref = [&] {
    SiglipRef<double> w;
    w.dims = d;
    w.patch_embed = lin(pw, dpw, C, P, &pb, &dpb);
    w.pos_embed = {pos.data(), dpos.data()};
    for (auto& b : B) {
      SiglipBlockRef<double> r;
      r.norm1_w = {b.v[0].data(), b.g[0].data()};
      r.norm1_b = {b.v[1].data(), b.g[1].data()};
      r.norm2_w = {b.v[2].data(), b.g[2].data()};
      r.norm2_b = {b.v[3].data(), b.g[3].data()};
      r.qkv = lin(b.v[4], b.g[4], 3 * C, C, &b.v[5], &b.g[5]);
      r.proj = lin(b.v[6], b.g[6], C, C, &b.v[7], &b.g[7]);
      r.fc1 = lin(b.v[8], b.g[8], F, C, &b.v[9], &b.g[9]);
      r.fc2 = lin(b.v[10], b.g[10], C, F, &b.v[11], &b.g[11]);
      w.blocks.push_back(r);
    }
    w.norm_w = {nw.data(), dnw.data()};
    w.norm_b = {nb.data(), dnb.data()};
    return w;
  };
  SiglipActs<double> acts;
  std::vector<Var> vars = {{"patch_embed.w", &pw, &dpw},
                           {"patch_embed.b", &pb, &dpb},
                           {"pos_embed", &pos, &dpos},
                           {"norm.w", &nw, &dnw},
                           {"norm.b", &nb, &dnb}};
  const char* names[12] = {"norm1.w", "norm1.b", "norm2.w", "norm2.b", "qkv.w", "qkv.b",
                           "proj.w",  "proj.b",  "fc1.w",   "fc1.b",   "fc2.w", "fc2.b"};
  for (size_t b = 0; b < B.size(); ++b)
    for (int i = 0; i < 12; ++i)
      vars.push_back({"blocks." + std::to_string(b) + "." + names[i], &B[b].v[i], &B[b].g[i]});
  grad_check(
      [&] {
        Vec out(N * Tn * C);
        siglip_forward(ref(), pix.data(), N, acts, out.data());
        return out;
      },
      [&](const Vec& dout) { siglip_backward(ref(), acts, dout.data()); }, vars);
}

}  // namespace
}  // namespace dsvl::train
