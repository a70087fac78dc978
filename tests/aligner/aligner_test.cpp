// Both projector variants at several depths against a naive double-precision reference built
// from the spec's formulas (§3.5), on random weights written to a temporary checkpoint.
#include "aligner/aligner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/shared.h"
#include "core/error.h"

namespace dsvl::aligner {
namespace {

constexpr int64_t kTokens = 576;

struct Linear {
  int64_t out, in;
  std::vector<float> w, b;
};

Linear random_linear(int64_t out, int64_t in, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.0f / std::sqrt(float(in)));
  Linear l{out, in, std::vector<float>(size_t(out * in)), std::vector<float>(size_t(out))};
  for (auto& x : l.w) x = nd(rng);
  for (auto& x : l.b) x = 0.1f * nd(rng);
  return l;
}

void add(std::vector<io::OwnedTensor>& t, const std::string& name, const Linear& l) {
  t.push_back(io::make_f32(name + ".weight", {l.out, l.in}, l.w.data()));
  t.push_back(io::make_f32(name + ".bias", {l.out}, l.b.data()));
}

// y = x·Wᵀ + b in double, rows of x of width l.in.
std::vector<double> ref_linear(const std::vector<double>& x, const Linear& l) {
  const size_t M = x.size() / size_t(l.in);
  std::vector<double> y(M * size_t(l.out));
  for (size_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < l.out; ++o) {
      double s = l.b[size_t(o)];
      for (int64_t k = 0; k < l.in; ++k)
        s += x[m * size_t(l.in) + size_t(k)] * l.w[size_t(o * l.in + k)];
      y[m * size_t(l.out) + size_t(o)] = s;
    }
  return y;
}

void ref_gelu(std::vector<double>& x) {
  for (auto& v : x) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
}

void expect_close(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(size_t(got.numel()), want.size()) << what;
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(want[i]));
    max_err = std::max(max_err, std::fabs(double(got.data[i]) - want[i]));
  }
  EXPECT_LE(max_err, 1e-5 * max_ref) << what << ": max abs err " << max_err;
}

io::ModelConfig config(io::AlignerKind kind, int depth, int input_dim, int n_embed) {
  io::ModelConfig c;
  c.aligner.kind = kind;
  c.aligner.depth = depth;
  c.aligner.input_dim = input_dim;
  c.aligner.n_embed = n_embed;
  return c;
}

TEST(Aligner, MlpGeluMatchesReferenceAtDepths) {
  const int64_t C = 24, D = 40, n = 2;
  for (int depth : {1, 2, 3}) {
    std::mt19937 rng{uint32_t(depth)};
    std::vector<Linear> layers{random_linear(D, C, rng)};
    std::vector<io::OwnedTensor> t;
    add(t, "aligner.layers.0", layers[0]);
    for (int i = 1; i < depth; ++i) {
      layers.push_back(random_linear(D, D, rng));
      add(t, "aligner.layers." + std::to_string(2 * i), layers.back());
    }
    const std::string file = test::temp_dir("aligner-mlp") + "/a.safetensors";
    io::write_safetensors(file, t);
    const io::WeightStore store = io::WeightStore::open_file(file);
    const auto a = Aligner::load(config(io::AlignerKind::kMlpGelu, depth, C, D), store);

    vision::VisionFeatures f;
    f.out = Tensor({n, kTokens, C});
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& x : f.out.data) x = nd(rng);
    std::vector<double> ref(f.out.data.begin(), f.out.data.end());
    ref = ref_linear(ref, layers[0]);
    for (int i = 1; i < depth; ++i) {
      ref_gelu(ref);
      ref = ref_linear(ref, layers[size_t(i)]);
    }
    expect_close(a->forward(f, int(n)), ref, "mlp_gelu depth " + std::to_string(depth));
  }
}

TEST(Aligner, HybridSplitMatchesReferenceAtDepths) {
  const int64_t C = 20, D = 32, n = 2;  // halves of 16
  for (int depth : {1, 2, 3}) {
    std::mt19937 rng{uint32_t(10 + depth)};
    const Linear high = random_linear(D / 2, C, rng), low = random_linear(D / 2, C, rng);
    std::vector<io::OwnedTensor> t;
    add(t, "aligner.high_up_proj", high);
    add(t, "aligner.low_up_proj", low);
    std::vector<Linear> layers;
    for (int i = 0; i + 1 < depth; ++i) {
      layers.push_back(random_linear(D, D, rng));
      add(t, "aligner.layers." + std::to_string(2 * i + 1), layers.back());
    }
    const std::string file = test::temp_dir("aligner-hybrid") + "/a.safetensors";
    io::write_safetensors(file, t);
    const io::WeightStore store = io::WeightStore::open_file(file);
    const auto a = Aligner::load(config(io::AlignerKind::kHybridSplit, depth, C, D), store);

    vision::VisionFeatures f;
    f.high = Tensor({n, C, 24, 24});  // NCHW
    f.low = Tensor({n, kTokens, C});
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& x : f.high.data) x = nd(rng);
    for (auto& x : f.low.data) x = nd(rng);
    // Reference: high flattened to tokens (token = 24·row + col, channels last), both halves
    // projected, concatenated high first, then [GELU, Linear] × (depth − 1).
    std::vector<double> h(size_t(n * kTokens * C)), l(f.low.data.begin(), f.low.data.end());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t tkn = 0; tkn < kTokens; ++tkn)
          h[size_t((i * kTokens + tkn) * C + c)] = f.high.data[size_t((i * C + c) * kTokens + tkn)];
    const auto hp = ref_linear(h, high), lp = ref_linear(l, low);
    std::vector<double> z(size_t(n * kTokens * D));
    for (int64_t m = 0; m < n * kTokens; ++m)
      for (int64_t j = 0; j < D / 2; ++j) {
        z[size_t(m * D + j)] = hp[size_t(m * D / 2 + j)];
        z[size_t(m * D + D / 2 + j)] = lp[size_t(m * D / 2 + j)];
      }
    for (const Linear& layer : layers) {
      ref_gelu(z);
      z = ref_linear(z, layer);
    }
    expect_close(a->forward(f, int(n)), z, "hybrid split depth " + std::to_string(depth));
  }
}

TEST(Aligner, MissingLayerIsNamed) {
  std::mt19937 rng(5);
  std::vector<io::OwnedTensor> t;
  add(t, "aligner.layers.0", random_linear(8, 4, rng));  // layers.2 missing
  const std::string file = test::temp_dir("aligner-missing") + "/a.safetensors";
  io::write_safetensors(file, t);
  const io::WeightStore store = io::WeightStore::open_file(file);
  try {
    Aligner::load(config(io::AlignerKind::kMlpGelu, 2, 4, 8), store);
    FAIL() << "loaded without aligner.layers.2";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("aligner.layers.2.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dsvl::aligner
