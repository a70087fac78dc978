#include "train/attention.h"

#include <algorithm>
#include <cmath>

#include "core/threadpool.h"

namespace dsvl::train {

template <typename T>
void RopeTable<T>::build(int64_t n_pos, int hd, double theta) {
  head_dim = hd;
  const int half = hd / 2;
  cos.assign(size_t(n_pos * hd), T(0));
  sin.assign(size_t(n_pos * hd), T(0));
  std::vector<float> inv(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i)
    inv[size_t(i)] = 1.0f / std::pow(float(theta), float(2 * i) / float(hd));
  for (int64_t p = 0; p < n_pos; ++p)
    for (int i = 0; i < half; ++i) {
      const float phi = float(p) * inv[size_t(i)];
      const T c = T(float(std::cos(double(phi)))), s = T(float(std::sin(double(phi))));
      cos[size_t(p * hd + i)] = cos[size_t(p * hd + i + half)] = c;
      sin[size_t(p * hd + i)] = sin[size_t(p * hd + i + half)] = s;
    }
}

template <typename T>
void rope_forward(T* x, int64_t M, int64_t ld, int n_heads, const int64_t* pos,
                  const RopeTable<T>& tab) {
  const int hd = tab.head_dim, half = hd / 2;
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* c = tab.cos.data() + pos[m] * hd;
      const T* s = tab.sin.data() + pos[m] * hd;
      for (int h = 0; h < n_heads; ++h) {
        T* r = x + m * ld + h * hd;
        for (int i = 0; i < half; ++i) {
          const T x1 = r[i], x2 = r[i + half];
          r[i] = x1 * c[i] - x2 * s[i];  // q·cos + rotate_half(q)·sin, rotate_half = [−x2, x1]
          r[i + half] = x2 * c[i] + x1 * s[i];
        }
      }
    }
  });
}

template <typename T>
void rope_backward(T* dx, int64_t M, int64_t ld, int n_heads, const int64_t* pos,
                   const RopeTable<T>& tab) {
  const int hd = tab.head_dim, half = hd / 2;
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* c = tab.cos.data() + pos[m] * hd;
      const T* s = tab.sin.data() + pos[m] * hd;
      for (int h = 0; h < n_heads; ++h) {
        T* r = dx + m * ld + h * hd;
        for (int i = 0; i < half; ++i) {
          const T d1 = r[i], d2 = r[i + half];
          r[i] = d1 * c[i] + d2 * s[i];
          r[i + half] = d2 * c[i] - d1 * s[i];
        }
      }
    }
  });
}

int64_t attn_probs_size(const Segments& seg, int n_heads) {
  int64_t n = 0;
  for (int64_t L : seg.len) n += n_heads * L * L;
  return n;
}

namespace {

// Query rows per block of the causal products.
constexpr int64_t kQueryBlock = 128;

// Offsets of each segment's block of probabilities.
std::vector<int64_t> prob_offsets(const Segments& seg, int n_heads) {
  std::vector<int64_t> off(seg.len.size());
  int64_t o = 0;
  for (size_t s = 0; s < seg.len.size(); ++s) {
    off[s] = o;
    o += n_heads * seg.len[s] * seg.len[s];
  }
  return off;
}

}  // namespace

template <typename T>
void attention_forward(const T* q, const T* k, const T* v, int64_t ld_in, const Segments& seg,
                       const AttnDims& a, T* P, T* out, int64_t ld_out) {
  const int H = a.n_heads, hd = a.head_dim;
  const T scale = T(1) / std::sqrt(T(hd));
  const auto off = prob_offsets(seg, H);
  const int64_t n_tasks = int64_t(seg.len.size()) * H;
  parallel_for(n_tasks, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s = t / H, h = t % H, L = seg.len[size_t(s)], r0 = seg.start[size_t(s)];
      T* p = P + off[size_t(s)] + h * L * L;
      const T* qh = q + r0 * ld_in + h * hd;
      const T* kh = k + r0 * ld_in + h * hd;
      const T* vh = v + r0 * ld_in + h * hd;
      // Causal: query block [i0, i1) needs keys [0, i1) only (about half the products).
      const int64_t qb = a.causal ? kQueryBlock : L;
      for (int64_t i0 = 0; i0 < L; i0 += qb) {
        const int64_t nq = std::min(qb, L - i0), nk = a.causal ? i0 + nq : L;
        mm(nq, nk, hd, mref(qh + i0 * ld_in, ld_in, 1), mref(kh, 1, ld_in), p + i0 * L, L, false);
      }
      for (int64_t i = 0; i < L; ++i) {
        T* row = p + i * L;
        const int64_t n = a.causal ? i + 1 : L;
        T mx = row[0] * scale;
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, row[j] * scale);
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          row[j] = std::exp(row[j] * scale - mx);
          sum += double(row[j]);
        }
        const T inv = T(1) / T(sum);
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
        for (int64_t j = n; j < L; ++j) row[j] = T(0);
      }
      for (int64_t i0 = 0; i0 < L; i0 += qb) {
        const int64_t nq = std::min(qb, L - i0), nk = a.causal ? i0 + nq : L;
        mm(nq, hd, nk, mref(static_cast<const T*>(p + i0 * L), L, 1), mref(vh, ld_in, 1),
           out + (r0 + i0) * ld_out + h * hd, ld_out, false);
      }
    }
  });
}

template <typename T>
void attention_backward(const T* dout, int64_t ld_out, const T* q, const T* k, const T* v,
                        int64_t ld_in, const T* P, const Segments& seg, const AttnDims& a, T* dq,
                        T* dk, T* dv) {
  const int H = a.n_heads, hd = a.head_dim;
  const T scale = T(1) / std::sqrt(T(hd));
  const auto off = prob_offsets(seg, H);
  const int64_t n_tasks = int64_t(seg.len.size()) * H;
  parallel_for(n_tasks, [&](int64_t t0, int64_t t1) {
    std::vector<T> ds;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s = t / H, h = t % H, L = seg.len[size_t(s)], r0 = seg.start[size_t(s)];
      const T* p = P + off[size_t(s)] + h * L * L;
      const int64_t c = r0 * ld_in + h * hd;
      const T* doh = dout + r0 * ld_out + h * hd;
      T* d = sized(ds, L * L);
      // Per query block [i0, i1) (keys [0, nk)): dP = dO·vᵀ; dS = P ⊙ (dP − rowsum(P ⊙ dP)),
      // folded with the 1/sqrt(hd) scale; dV += Pᵀ·dO, dQ += dS·K, dK += dSᵀ·Q.
      const int64_t qb = a.causal ? kQueryBlock : L;
      for (int64_t i0 = 0; i0 < L; i0 += qb) {
        const int64_t nq = std::min(qb, L - i0), nk = a.causal ? i0 + nq : L;
        const T* pb = p + i0 * L;
        T* db = d + i0 * L;
        mm(nq, nk, hd, mref(doh + i0 * ld_out, ld_out, 1), mref(v + c, 1, ld_in), db, L, false);
        for (int64_t i = i0; i < i0 + nq; ++i) {
          const T* pr = p + i * L;
          T* dr = d + i * L;
          const int64_t n = a.causal ? i + 1 : L;
          double dot = 0;
          for (int64_t j = 0; j < n; ++j) dot += double(pr[j]) * double(dr[j]);
          const T dt = T(dot);
          for (int64_t j = 0; j < n; ++j) dr[j] = pr[j] * (dr[j] - dt) * scale;
          for (int64_t j = n; j < nk; ++j) dr[j] = T(0);
        }
        const T* dsb = db;
        mm(nk, hd, nq, mref(pb, 1, L), mref(doh + i0 * ld_out, ld_out, 1), dv + c, ld_in, true);
        mm(nq, hd, nk, mref(dsb, L, 1), mref(k + c, ld_in, 1), dq + c + i0 * ld_in, ld_in, true);
        mm(nk, hd, nq, mref(dsb, 1, L), mref(q + c + i0 * ld_in, ld_in, 1), dk + c, ld_in, true);
      }
    }
  });
}

template struct RopeTable<float>;
template struct RopeTable<double>;
template void rope_forward(float*, int64_t, int64_t, int, const int64_t*, const RopeTable<float>&);
template void rope_forward(double*, int64_t, int64_t, int, const int64_t*,
                           const RopeTable<double>&);
template void rope_backward(float*, int64_t, int64_t, int, const int64_t*, const RopeTable<float>&);
template void rope_backward(double*, int64_t, int64_t, int, const int64_t*,
                            const RopeTable<double>&);
template void attention_forward(const float*, const float*, const float*, int64_t, const Segments&,
                                const AttnDims&, float*, float*, int64_t);
template void attention_forward(const double*, const double*, const double*, int64_t,
                                const Segments&, const AttnDims&, double*, double*, int64_t);
template void attention_backward(const float*, int64_t, const float*, const float*, const float*,
                                 int64_t, const float*, const Segments&, const AttnDims&, float*,
                                 float*, float*);
template void attention_backward(const double*, int64_t, const double*, const double*,
                                 const double*, int64_t, const double*, const Segments&,
                                 const AttnDims&, double*, double*, double*);

}  // namespace dsvl::train
