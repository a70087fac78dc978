#include "train/layers.h"

#include <cmath>

#include "core/threadpool.h"

namespace dsvl::train {

template <typename T>
void linear_forward(const T* x, int64_t M, const LinearRef<T>& L, T* y, int64_t ldx, int64_t ldy) {
  const int64_t N = L.out(), K = L.in();
  if (ldx == 0) ldx = K;
  if (ldy == 0) ldy = N;
  mm(M, N, K, mref(x, ldx, 1), L.mat_t(), y, ldy, false);
  if (L.b)
    parallel_for(M, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m)
        for (int64_t n = 0; n < N; ++n) y[m * ldy + n] += L.b[n];
    });
}

template <typename T>
void linear_backward(const T* dy, const T* x, int64_t M, const LinearRef<T>& L, T* dx, int64_t ldx,
                     int64_t lddy) {
  const int64_t N = L.out(), K = L.in();
  if (ldx == 0) ldx = K;
  if (lddy == 0) lddy = N;
  if (dx) mm(M, K, N, mref(dy, lddy, 1), L.mat(), dx, ldx, true);
  if (L.dw) mm(N, K, M, mref(dy, 1, lddy), mref(x, ldx, 1), L.dw, K, true);
  if (L.db)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) L.db[n] += dy[m * lddy + n];
}

// Row statistics are accumulated in double and rounded to T: torch reduces in float32 with
// its own pairwise order, so both are within an ulp or so of the exact value.
template <typename T>
void rmsnorm_forward(const T* x, int64_t M, int64_t D, const VecRef<T>& w, double eps, T* y,
                     T* rstd) {
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* xr = x + m * D;
      double ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += double(xr[i]) * double(xr[i]);
      const T var = T(ss / double(D));
      const T r = T(1) / std::sqrt(var + T(eps));
      rstd[m] = r;
      for (int64_t i = 0; i < D; ++i) y[m * D + i] = w.v[i] * (xr[i] * r);
    }
  });
}

template <typename T>
void rmsnorm_backward(const T* dy, const T* x, const T* rstd, int64_t M, int64_t D,
                      const VecRef<T>& w, T* dx) {
  // n = x·r, y = w ⊙ n:  dx = r·(dn − n·mean(dn ⊙ n)) with dn = dy ⊙ w.
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* xr = x + m * D;
      const T* g = dy + m * D;
      const T r = rstd[m];
      double dot = 0;
      for (int64_t i = 0; i < D; ++i) dot += double(g[i] * w.v[i]) * double(xr[i] * r);
      const T c = T(dot / double(D));
      for (int64_t i = 0; i < D; ++i) dx[m * D + i] += r * (g[i] * w.v[i] - (xr[i] * r) * c);
    }
  });
  if (w.dv)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < D; ++i) w.dv[i] += dy[m * D + i] * (x[m * D + i] * rstd[m]);
}

template <typename T>
void layernorm_forward(const T* x, int64_t M, int64_t D, const VecRef<T>& w, const VecRef<T>& b,
                       double eps, T* y, T* mean, T* rstd) {
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* xr = x + m * D;
      double s = 0;
      for (int64_t i = 0; i < D; ++i) s += double(xr[i]);
      const T mu = T(s / double(D));
      double v = 0;
      for (int64_t i = 0; i < D; ++i) v += double(xr[i] - mu) * double(xr[i] - mu);
      const T r = T(1) / std::sqrt(T(v / double(D)) + T(eps));
      mean[m] = mu;
      rstd[m] = r;
      for (int64_t i = 0; i < D; ++i) y[m * D + i] = (xr[i] - mu) * r * w.v[i] + b.v[i];
    }
  });
}

template <typename T>
void layernorm_backward(const T* dy, const T* x, const T* mean, const T* rstd, int64_t M, int64_t D,
                        const VecRef<T>& w, const VecRef<T>& b, T* dx) {
  // n = (x − μ)·r:  dx = r·(dn − mean(dn) − n·mean(dn ⊙ n)) with dn = dy ⊙ w.
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* xr = x + m * D;
      const T* g = dy + m * D;
      const T mu = mean[m], r = rstd[m];
      double s1 = 0, s2 = 0;
      for (int64_t i = 0; i < D; ++i) {
        const double dn = double(g[i] * w.v[i]);
        s1 += dn;
        s2 += dn * double((xr[i] - mu) * r);
      }
      const T c1 = T(s1 / double(D)), c2 = T(s2 / double(D));
      for (int64_t i = 0; i < D; ++i)
        dx[m * D + i] += r * (g[i] * w.v[i] - c1 - (xr[i] - mu) * r * c2);
    }
  });
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < D; ++i) {
      if (w.dv) w.dv[i] += dy[m * D + i] * ((x[m * D + i] - mean[m]) * rstd[m]);
      if (b.dv) b.dv[i] += dy[m * D + i];
    }
}

template <typename T>
void gelu_forward(const T* x, int64_t n, T* y) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          y[i] = x[i] * T(0.5) * (T(1) + std::erf(x[i] * T(M_SQRT1_2)));
      },
      4096);
}

template <typename T>
void gelu_backward(const T* dy, const T* x, int64_t n, T* dx) {
  // d/dx [x·Φ(x)] = Φ(x) + x·φ(x), φ the standard normal density (torch GeluBackward).
  const T k = T(0.5 * M_2_SQRTPI * M_SQRT1_2);  // 1/sqrt(2π)
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const T cdf = T(0.5) * (T(1) + std::erf(x[i] * T(M_SQRT1_2)));
          const T pdf = k * std::exp(T(-0.5) * x[i] * x[i]);
          dx[i] += dy[i] * (cdf + x[i] * pdf);
        }
      },
      4096);
}

template <typename T>
void swiglu_forward(const T* g, const T* u, int64_t n, T* a) {
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) a[i] = g[i] / (T(1) + std::exp(-g[i])) * u[i];
      },
      4096);
}

template <typename T>
void swiglu_backward(const T* da, const T* g, const T* u, int64_t n, T* dg, T* du) {
  // silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
  parallel_for(
      n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const T s = T(1) / (T(1) + std::exp(-g[i]));
          dg[i] += da[i] * u[i] * s * (T(1) + g[i] * (T(1) - s));
          du[i] += da[i] * g[i] * s;
        }
      },
      4096);
}

// Explicit instantiations: the engine (float) and the finite-difference reference (double).
template void linear_forward(const float*, int64_t, const LinearRef<float>&, float*, int64_t,
                             int64_t);
template void linear_backward(const float*, const float*, int64_t, const LinearRef<float>&, float*,
                              int64_t, int64_t);
template void rmsnorm_forward(const float*, int64_t, int64_t, const VecRef<float>&, double, float*,
                              float*);
template void rmsnorm_backward(const float*, const float*, const float*, int64_t, int64_t,
                               const VecRef<float>&, float*);
template void layernorm_forward(const float*, int64_t, int64_t, const VecRef<float>&,
                                const VecRef<float>&, double, float*, float*, float*);
template void layernorm_backward(const float*, const float*, const float*, const float*, int64_t,
                                 int64_t, const VecRef<float>&, const VecRef<float>&, float*);
template void gelu_forward(const float*, int64_t, float*);
template void gelu_backward(const float*, const float*, int64_t, float*);
template void swiglu_forward(const float*, const float*, int64_t, float*);
template void swiglu_backward(const float*, const float*, const float*, int64_t, float*, float*);
template void linear_forward(const double*, int64_t, const LinearRef<double>&, double*, int64_t,
                             int64_t);
template void linear_backward(const double*, const double*, int64_t, const LinearRef<double>&,
                              double*, int64_t, int64_t);
template void rmsnorm_forward(const double*, int64_t, int64_t, const VecRef<double>&, double,
                              double*, double*);
template void rmsnorm_backward(const double*, const double*, const double*, int64_t, int64_t,
                               const VecRef<double>&, double*);
template void layernorm_forward(const double*, int64_t, int64_t, const VecRef<double>&,
                                const VecRef<double>&, double, double*, double*, double*);
template void layernorm_backward(const double*, const double*, const double*, const double*,
                                 int64_t, int64_t, const VecRef<double>&, const VecRef<double>&,
                                 double*);
template void gelu_forward(const double*, int64_t, double*);
template void gelu_backward(const double*, const double*, int64_t, double*);
template void swiglu_forward(const double*, const double*, int64_t, double*);
template void swiglu_backward(const double*, const double*, const double*, int64_t, double*,
                              double*);

}  // namespace dsvl::train
