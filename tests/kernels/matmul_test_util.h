// Shared helpers of the GEMM tests: random operands in every weight dtype and a comparison
// whose tolerance scales with Σ|x·w| (the float32 summation-order error bound), so both the
// blocked and the streaming kernels are held to the same standard on any K.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/matmul.h"

namespace dsvl::kernels::test {

struct Case {
  int64_t M, K, N;
};

inline std::string case_str(const Case& c, DType t) {
  return "M=" + std::to_string(c.M) + " K=" + std::to_string(c.K) + " N=" + std::to_string(c.N) +
         " dtype=" + dtype_name(t);
}

// A weight or bias stored as `t`, kept alive with its view.
struct Stored {
  std::vector<float> f;
  std::vector<uint16_t> h;
  TensorView view;
};

inline Stored store(const std::vector<float>& v, DType t, Shape shape) {
  Stored s{v, {}, {}};
  if (t != DType::kF32) {
    s.h.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      s.h[i] = t == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  }
  s.view = TensorView{t, std::move(shape),
                      t == DType::kF32 ? static_cast<const void*>(s.f.data()) : s.h.data()};
  return s;
}

inline std::vector<float> randn(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Σ_k |x[m,k]·w[n,k]| + |b[n]| for every (m, n): the scale of float32 rounding error.
inline std::vector<double> abs_sums(const float* x, int64_t ldx, const Case& c, const TensorView& w,
                                    const TensorView* b) {
  std::vector<double> s(size_t(c.M * c.N));
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double a = b ? std::fabs(load_float(*b, n)) : 0.0;
      for (int64_t k = 0; k < c.K; ++k)
        a += std::fabs(double(x[m * ldx + k]) * load_float(w, n * c.K + k));
      s[size_t(m * c.N + n)] = a;
    }
  return s;
}

// Expects |got - want| ≤ rel·abs_sum + 1e-6 everywhere, reporting the first bad index.
inline void expect_close(const float* got, int64_t ldg, const std::vector<float>& want,
                         const std::vector<double>& scale, const Case& c, double rel,
                         const std::string& what) {
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      const size_t i = size_t(m * c.N + n);
      const double err = std::fabs(double(got[m * ldg + n]) - want[i]);
      ASSERT_LE(err, rel * scale[i] + 1e-6) << what << " at m=" << m << " n=" << n << ": got "
                                            << got[m * ldg + n] << ", want " << want[i];
    }
}

}  // namespace dsvl::kernels::test
