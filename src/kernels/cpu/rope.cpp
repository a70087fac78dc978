#include "kernels/cpu/rope.h"

#include <cmath>

#include "core/threadpool.h"

namespace dsvl::kernels {

std::vector<float> rope_inv_freq(int head_dim, double theta) {
  // HF: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), every step in float32.
  std::vector<float> inv(size_t(head_dim / 2));
  for (int i = 0; i < head_dim / 2; ++i) {
    const float e = float(2 * i) / float(head_dim);
    inv[size_t(i)] = 1.0f / powf(float(theta), e);
  }
  return inv;
}

RopeTable make_rope_table(int head_dim, double theta, int64_t n_pos) {
  RopeTable t;
  t.head_dim = head_dim;
  t.n_pos = n_pos;
  const int half = head_dim / 2;
  const std::vector<float> inv = rope_inv_freq(head_dim, theta);
  t.cos.resize(size_t(n_pos * half));
  t.sin.resize(size_t(n_pos * half));
  parallel_for(n_pos, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int i = 0; i < half; ++i) {
        // φ is a float32 product (torch.outer of float32 tensors); cos/sin of that float are
        // then evaluated accurately and rounded once.
        const float phi = float(p) * inv[size_t(i)];
        t.cos[size_t(p * half + i)] = float(std::cos(double(phi)));
        t.sin[size_t(p * half + i)] = float(std::sin(double(phi)));
      }
  });
  return t;
}

void rope_apply(float* x, int64_t n_tokens, int64_t ld, int n_heads, int64_t pos0,
                const RopeTable& table) {
  const int d = table.head_dim, half = d / 2;
  parallel_for(
      n_tokens,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const float* c = table.cos.data() + (pos0 + t) * half;
          const float* s = table.sin.data() + (pos0 + t) * half;
          for (int h = 0; h < n_heads; ++h) {
            float* v = x + t * ld + int64_t(h) * d;
            for (int i = 0; i < half; ++i) {
              const float a = v[i], b = v[i + half];
              v[i] = a * c[i] - b * s[i];
              v[i + half] = b * c[i] + a * s[i];
            }
          }
        }
      },
      /*grain=*/16);
}

void rope_apply_ref(float* x, int64_t n_tokens, int64_t ld, int n_heads, int head_dim, int64_t pos0,
                    double theta) {
  const int half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + t * ld + int64_t(h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float inv = 1.0f / powf(float(theta), float(2 * i) / float(head_dim));
        const double phi = double(float(double(pos0 + t)) * inv);
        const double a = v[i], b = v[i + half];
        v[i] = float(a * std::cos(phi) - b * std::sin(phi));
        v[i + half] = float(b * std::cos(phi) + a * std::sin(phi));
      }
    }
}

}  // namespace dsvl::kernels
