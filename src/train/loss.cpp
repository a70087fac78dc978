#include "train/loss.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/threadpool.h"

namespace dsvl::train {

template <typename T>
double lm_head_cross_entropy(const T* h, int64_t D, const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& targets, const LinearRef<T>& head,
                             double grad_scale, T* nll, T* dh) {
  const int64_t V = head.out(), n = int64_t(rows.size());
  constexpr int64_t kChunk = 128;
  std::vector<T> hb(size_t(std::min(n, kChunk) * D)), z(size_t(std::min(n, kChunk) * V));
  std::vector<T> dhb(dh ? hb.size() : 0);
  double total = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t c = std::min(kChunk, n - c0);
    for (int64_t i = 0; i < c; ++i) {
      const int64_t t = targets[size_t(c0 + i)];
      if (t < 0 || t >= V)
        throw RequestError("loss target id " + std::to_string(t) + " outside the vocabulary [0, " +
                           std::to_string(V) + ")");
      std::copy(h + rows[size_t(c0 + i)] * D, h + (rows[size_t(c0 + i)] + 1) * D,
                hb.begin() + i * D);
    }
    mm(c, V, D, mref(static_cast<const T*>(hb.data()), D, 1), head.mat_t(), z.data(), V, false);
    std::vector<double> row_nll(static_cast<size_t>(c));
    parallel_for(c, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T* zr = z.data() + i * V;
        const int64_t t = targets[size_t(c0 + i)];
        T mx = zr[0];
        for (int64_t j = 1; j < V; ++j) mx = std::max(mx, zr[j]);
        double sum = 0;
        for (int64_t j = 0; j < V; ++j) sum += std::exp(double(zr[j] - mx));
        const double lse = double(mx) + std::log(sum);
        row_nll[size_t(i)] = lse - double(zr[t]);
        if (dh) {  // z becomes dz in place
          for (int64_t j = 0; j < V; ++j) zr[j] = T(std::exp(double(zr[j]) - lse) * grad_scale);
          zr[t] -= T(grad_scale);
        }
      }
    });
    for (int64_t i = 0; i < c; ++i) {
      nll[c0 + i] = T(row_nll[size_t(i)]);
      total += row_nll[size_t(i)];
    }
    if (!dh) continue;
    const T* dz = z.data();
    mm(c, D, V, mref(dz, V, 1), head.mat(), dhb.data(), D, false);
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < D; ++j) dh[rows[size_t(c0 + i)] * D + j] += dhb[size_t(i * D + j)];
    if (head.dw)
      mm(V, D, c, mref(dz, 1, V), mref(static_cast<const T*>(hb.data()), D, 1), head.dw, D, true);
  }
  return total;
}

template double lm_head_cross_entropy(const float*, int64_t, const std::vector<int64_t>&,
                                      const std::vector<int64_t>&, const LinearRef<float>&, double,
                                      float*, float*);
template double lm_head_cross_entropy(const double*, int64_t, const std::vector<int64_t>&,
                                      const std::vector<int64_t>&, const LinearRef<double>&, double,
                                      double*, double*);

}  // namespace dsvl::train
