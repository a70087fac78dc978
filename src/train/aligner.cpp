#include "train/aligner.h"

#include <algorithm>

#include "train/layers.h"

namespace dsvl::train {

template <typename T>
void aligner_forward(const AlignerRef<T>& w, const T* high, const T* low, int64_t N,
                     AlignerActs<T>& acts, T* out) {
  const size_t first = w.hybrid ? 0 : 1;  // index in `layers` of the first Linear after z[0]
  const size_t n_lin = w.layers.size() - first;
  acts.z.resize(n_lin + 1);
  acts.g.resize(n_lin + 1);
  if (w.hybrid) {
    const int64_t half = w.high_up_proj.out(), width = 2 * half;
    T* z0 = sized(acts.z[0], N * width);
    linear_forward(high, N, w.high_up_proj, z0, 0, width);
    linear_forward(low, N, w.low_up_proj, z0 + half, 0, width);
  } else {
    linear_forward(low, N, w.layers[0], sized(acts.z[0], N * w.layers[0].out()));
  }
  for (size_t i = 1; i <= n_lin; ++i) {
    const LinearRef<T>& L = w.layers[first + i - 1];
    gelu_forward(acts.z[i - 1].data(), N * L.in(), sized(acts.g[i], N * L.in()));
    linear_forward(acts.g[i].data(), N, L, sized(acts.z[i], N * L.out()));
  }
  const std::vector<T>& last = acts.z[n_lin];
  const int64_t width = w.layers.empty() ? 2 * w.high_up_proj.out() : w.layers.back().out();
  std::copy(last.begin(), last.begin() + N * width, out);
}

template <typename T>
void aligner_backward(const AlignerRef<T>& w, const T* high, const T* low, int64_t N,
                      const AlignerActs<T>& acts, const T* dout, T* d_high, T* d_low) {
  const size_t first = w.hybrid ? 0 : 1;
  const size_t n_lin = w.layers.size() - first;
  const int64_t out_w = w.layers.empty() ? 2 * w.high_up_proj.out() : w.layers.back().out();
  std::vector<T> dz(dout, dout + N * out_w), dg;
  for (size_t i = n_lin; i >= 1; --i) {
    const LinearRef<T>& L = w.layers[first + i - 1];
    dg.assign(size_t(N * L.in()), T(0));
    linear_backward(dz.data(), acts.g[i].data(), N, L, dg.data());
    dz.assign(size_t(N * L.in()), T(0));
    gelu_backward(dg.data(), acts.z[i - 1].data(), N * L.in(), dz.data());
  }
  if (w.hybrid) {
    const int64_t half = w.high_up_proj.out(), width = 2 * half;
    linear_backward(dz.data(), high, N, w.high_up_proj, d_high, 0, width);
    linear_backward(dz.data() + half, low, N, w.low_up_proj, d_low, 0, width);
  } else {
    linear_backward(dz.data(), low, N, w.layers[0], d_low);
  }
}

template void aligner_forward(const AlignerRef<float>&, const float*, const float*, int64_t,
                              AlignerActs<float>&, float*);
template void aligner_forward(const AlignerRef<double>&, const double*, const double*, int64_t,
                              AlignerActs<double>&, double*);
template void aligner_backward(const AlignerRef<float>&, const float*, const float*, int64_t,
                               const AlignerActs<float>&, const float*, float*, float*);
template void aligner_backward(const AlignerRef<double>&, const double*, const double*, int64_t,
                               const AlignerActs<double>&, const double*, double*, double*);

}  // namespace dsvl::train
