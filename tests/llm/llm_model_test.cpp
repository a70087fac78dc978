// The decoder on random in-memory models: grouped-query attention against a naive reference
// and against the equivalent multi-head model, chunking invariance, and the errors of
// binding, merging and cache overflow.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/shared.h"
#include "core/error.h"
#include "llm/golden.h"
#include "llm/llm.h"
#include "llm/random_model.h"
#include "runtime/kv_cache.h"

namespace dsvl::llm {
namespace {

io::LlmConfig small_config(int heads, int kv_heads) {
  return {.vocab_size = 97,
          .hidden_size = 16 * heads,
          .intermediate_size = 72,
          .num_hidden_layers = 2,
          .num_attention_heads = heads,
          .num_key_value_heads = kv_heads,
          .max_position_embeddings = 512};
}

// Plain double-precision LLaMA forward over embeddings x [T, H] → logits [T, V].
std::vector<double> reference_logits(const io::LlmConfig& c, const InMemoryWeights& w,
                                     const std::vector<float>& x, int64_t T) {
  const int64_t H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int d = c.head_dim(), nh = c.num_attention_heads, nkv = c.num_key_value_heads;
  const std::string P = kLlmPrefix;
  auto lin = [](const std::vector<double>& in, int64_t rows, const std::vector<float>& W, int64_t N,
                int64_t K) {
    std::vector<double> out(size_t(rows * N), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          out[size_t(r * N + n)] += in[size_t(r * K + k)] * W[size_t(n * K + k)];
    return out;
  };
  auto norm = [&](const std::vector<double>& in, const std::vector<float>& g) {
    std::vector<double> out(in.size());
    for (int64_t t = 0; t < T; ++t) {
      double ss = 0;
      for (int64_t i = 0; i < H; ++i) ss += in[size_t(t * H + i)] * in[size_t(t * H + i)];
      const double r = 1.0 / std::sqrt(ss / double(H) + c.rms_norm_eps);
      for (int64_t i = 0; i < H; ++i)
        out[size_t(t * H + i)] = g[size_t(i)] * in[size_t(t * H + i)] * r;
    }
    return out;
  };
  auto rope = [&](std::vector<double>& v, int heads) {
    for (int64_t t = 0; t < T; ++t)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < d / 2; ++i) {
          const double phi = double(t) * std::pow(c.rope_theta, -2.0 * i / d);
          double* a = &v[size_t((t * heads + h) * d + i)];
          const double x0 = a[0], x1 = a[d / 2];
          a[0] = x0 * std::cos(phi) - x1 * std::sin(phi);
          a[d / 2] = x1 * std::cos(phi) + x0 * std::sin(phi);
        }
  };
  std::vector<double> h(x.begin(), x.end());
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = P + "model.layers." + std::to_string(l) + ".";
    std::vector<double> a = norm(h, w.floats(p + "input_layernorm.weight"));
    std::vector<double> q = lin(a, T, w.floats(p + "self_attn.q_proj.weight"), H, H);
    std::vector<double> k = lin(a, T, w.floats(p + "self_attn.k_proj.weight"), nkv * d, H);
    std::vector<double> v = lin(a, T, w.floats(p + "self_attn.v_proj.weight"), nkv * d, H);
    rope(q, nh);
    rope(k, nkv);
    std::vector<double> att(size_t(T * H), 0.0);
    for (int hh = 0; hh < nh; ++hh) {
      const int g = hh / (nh / nkv);
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> s(size_t(t + 1));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double dot = 0;
          for (int i = 0; i < d; ++i)
            dot += q[size_t((t * nh + hh) * d + i)] * k[size_t((j * nkv + g) * d + i)];
          s[size_t(j)] = dot / std::sqrt(double(d));
          mx = std::max(mx, s[size_t(j)]);
        }
        for (auto& e : s) sum += (e = std::exp(e - mx));
        for (int64_t j = 0; j <= t; ++j)
          for (int i = 0; i < d; ++i)
            att[size_t((t * nh + hh) * d + i)] +=
                s[size_t(j)] / sum * v[size_t((j * nkv + g) * d + i)];
      }
    }
    std::vector<double> o = lin(att, T, w.floats(p + "self_attn.o_proj.weight"), H, H);
    for (size_t i = 0; i < h.size(); ++i) h[i] += o[i];
    std::vector<double> m = norm(h, w.floats(p + "post_attention_layernorm.weight"));
    std::vector<double> gt = lin(m, T, w.floats(p + "mlp.gate_proj.weight"), F, H);
    std::vector<double> up = lin(m, T, w.floats(p + "mlp.up_proj.weight"), F, H);
    for (size_t i = 0; i < gt.size(); ++i) gt[i] = gt[i] / (1 + std::exp(-gt[i])) * up[i];
    std::vector<double> dn = lin(gt, T, w.floats(p + "mlp.down_proj.weight"), H, F);
    for (size_t i = 0; i < h.size(); ++i) h[i] += dn[i];
  }
  return lin(norm(h, w.floats(P + "model.norm.weight")), T, w.floats(P + "lm_head.weight"), V, H);
}

std::vector<float> all_logits(const Llm& m, const std::vector<float>& x, int64_t T, int64_t chunk) {
  runtime::KvCache kv(m.config(), T, runtime::kv_dtype(m.precision()));
  Workspace ws(m.config(), chunk, T);
  std::vector<float> logits(size_t(T * m.vocab_size()));
  m.forward(x.data(), T, kv.view(), ws, 0, logits.data());
  return logits;
}

std::vector<float> random_embeds(const Llm& m, int64_t T, uint32_t seed) {
  std::vector<int32_t> ids(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) ids[size_t(i)] = int32_t((i * 37 + seed) % m.vocab_size());
  std::vector<float> x(size_t(T * m.hidden_size()));
  m.embed(ids.data(), T, x.data());
  return x;
}

TEST(LlmModel, GroupedQueryAttentionMatchesNaiveReference) {
  for (auto [heads, kv_heads] : {std::pair{4, 2}, std::pair{4, 1}, std::pair{3, 3}}) {
    const io::LlmConfig c = small_config(heads, kv_heads);
    auto w = make_random_llm_weights(c, DType::kF32, 3);
    auto m = load_in_memory(c, w);
    const int64_t T = 23;
    const std::vector<float> x = random_embeds(*m, T, 5);
    const std::vector<float> got = all_logits(*m, x, T, 8);
    const std::vector<double> ref = reference_logits(c, *w, x, T);
    const std::vector<float> reff(ref.begin(), ref.end());
    test::expect_close("gqa " + std::to_string(heads) + "/" + std::to_string(kv_heads) + " logits",
                       got.data(), reff.data(), int64_t(got.size()), 1e-5);
  }
}

// head_dim 128, as the real models: the bf16 cache keeps its keys packed and its values in two
// 64-lane blocks (kernels::kv_value_index). Against the same bf16 model on a float32 cache
// (rows, no rounding), for decode steps (chunk 1), short blocks and a whole prefill: the
// logits differ by the keys' and values' rounding only; a value or key read from the wrong
// place in the cache moves them far more.
TEST(LlmModel, Bf16CacheAtHeadDim128MatchesAFloat32Cache) {
  io::LlmConfig c = small_config(2, 2);
  c.hidden_size = 256;
  ASSERT_EQ(c.head_dim(), 128);
  auto m =
      load_in_memory(c, make_random_llm_weights(c, DType::kBF16, 11), kernels::Precision::kBF16);
  const int64_t T = 70;
  const std::vector<float> x = random_embeds(*m, T, 3);
  for (int64_t chunk : {1, 8, 70}) {
    std::vector<float> logits[2];
    for (DType dt : {DType::kF32, DType::kBF16}) {
      runtime::KvCache kv(c, T, dt);
      Workspace ws(c, chunk, T);
      auto& l = logits[dt == DType::kBF16];
      l.resize(size_t(T * m->vocab_size()));
      m->forward(x.data(), T, kv.view(), ws, 0, l.data());
    }
    test::expect_close("bf16 cache, chunk " + std::to_string(chunk), logits[1].data(),
                       logits[0].data(), int64_t(logits[0].size()), 2e-2);
  }
}

TEST(LlmModel, GroupedQueryAttentionEqualsRepeatedKvHeads) {
  const io::LlmConfig gqa = small_config(4, 2);
  io::LlmConfig mha = gqa;
  mha.num_key_value_heads = 4;
  auto w = make_random_llm_weights(gqa, DType::kBF16, 11);
  // The MHA twin: each kv head's k/v rows repeated for the heads that share it.
  auto w2 = std::make_shared<InMemoryWeights>(*w);
  const int64_t H = gqa.hidden_size, d = gqa.head_dim();
  for (int l = 0; l < gqa.num_hidden_layers; ++l)
    for (const char* name : {"k_proj", "v_proj"}) {
      const std::string key = std::string(kLlmPrefix) + "model.layers." + std::to_string(l) +
                              ".self_attn." + name + ".weight";
      const std::vector<float> src = w->floats(key);
      std::vector<float> rep;
      for (int h = 0; h < 4; ++h)
        rep.insert(rep.end(), src.begin() + (h / 2) * d * H, src.begin() + (h / 2 + 1) * d * H);
      w2->add(key, DType::kBF16, {4 * d, H}, rep);
    }
  auto m1 = load_in_memory(gqa, w);
  auto m2 = load_in_memory(mha, w2);
  const int64_t T = 40;
  const std::vector<float> x = random_embeds(*m1, T, 1);
  const std::vector<float> a = all_logits(*m1, x, T, 16), b = all_logits(*m2, x, T, 16);
  test::expect_close("gqa vs repeated-kv mha", a.data(), b.data(), int64_t(a.size()), 1e-6);
}

// Both precisions: float32 with the float32 cache, bf16 with the bf16 cache.
TEST(LlmModel, ChunkingAndDecodeAreBitIdentical) {
  const io::LlmConfig c = small_config(4, 2);
  const auto weights = make_random_llm_weights(c, DType::kF16, 2);
  for (const auto p : {kernels::Precision::kF32, kernels::Precision::kBF16}) {
    SCOPED_TRACE(kernels::precision_name(p));
    auto m = load_in_memory(c, weights, p);
    const int64_t T = 70, V = c.vocab_size;
    const std::vector<float> x = random_embeds(*m, T, 9);
    const std::vector<float> base = all_logits(*m, x, T, 1000);
    for (int64_t chunk : {1, 7, 32, 33}) EXPECT_EQ(all_logits(*m, x, T, chunk), base) << chunk;
    // Prefill 50 rows, then decode the remaining 20 one by one.
    runtime::KvCache kv(c, T, runtime::kv_dtype(p));
    Workspace ws(c, 64, T);
    std::vector<float> logits(static_cast<size_t>(V));
    m->forward(x.data(), 50, kv.view(), ws, 49, logits.data());
    EXPECT_TRUE(std::equal(logits.begin(), logits.end(), base.begin() + 49 * V));
    for (int64_t t = 50; t < T; ++t) {
      m->forward(x.data() + t * c.hidden_size, 1, kv.view(), ws, 0, logits.data());
      ASSERT_TRUE(std::equal(logits.begin(), logits.end(), base.begin() + t * V))
          << "position " << t;
    }
  }
}

TEST(LlmModel, PromptsAreCutIntoEqualChunks) {
  EXPECT_EQ(balanced_chunk_rows(576, 1024), 576);  // one image prompt: one pass
  EXPECT_EQ(balanced_chunk_rows(576, 512), 288);   // 288 + 288, not 512 + 64
  EXPECT_EQ(balanced_chunk_rows(576, 256), 192);
  EXPECT_EQ(balanced_chunk_rows(1300, 1024), 650);
  EXPECT_EQ(balanced_chunk_rows(1025, 1024), 513);  // 513 + 512
  EXPECT_EQ(balanced_chunk_rows(70, 7), 7);
  EXPECT_EQ(balanced_chunk_rows(1, 1024), 1);
  EXPECT_EQ(balanced_chunk_rows(0, 1024), 1);
  EXPECT_EQ(balanced_chunk_rows(5, 0), 1);
  for (int64_t total = 1; total < 300; ++total)
    for (int64_t max_rows : {1, 7, 64, 256}) {
      const int64_t c = balanced_chunk_rows(total, max_rows);
      ASSERT_LE(c, max_rows);
      // As few chunks as max_rows allows.
      ASSERT_EQ((total + c - 1) / c, (total + max_rows - 1) / max_rows) << total << " " << max_rows;
    }
}

TEST(LlmModel, KvCacheOverflowIsALimitError) {
  const io::LlmConfig c = small_config(2, 2);
  auto m = load_in_memory(c, make_random_llm_weights(c, DType::kF32, 1));
  runtime::KvCache kv(c, 10);
  Workspace ws(c, 16, 10);
  const std::vector<float> x = random_embeds(*m, 11, 0);
  std::vector<float> logits(size_t(c.vocab_size));
  EXPECT_THROW(m->forward(x.data(), 11, kv.view(), ws, 10, logits.data()), LimitError);
  EXPECT_EQ(kv.size(), 0);
  EXPECT_THROW(runtime::KvCache(c, c.max_position_embeddings + 1), LimitError);
}

TEST(LlmModel, MissingOrMisshapedWeightNamesTheKey) {
  const io::LlmConfig c = small_config(2, 2);
  auto w = make_random_llm_weights(c, DType::kF32, 1);
  const std::string key = std::string(kLlmPrefix) + "model.layers.1.mlp.up_proj.weight";
  auto missing = std::make_shared<InMemoryWeights>(*w);
  missing->erase(key);
  try {
    load_in_memory(c, missing);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
  auto bad = std::make_shared<InMemoryWeights>(*w);
  bad->add(key, DType::kF32, {c.intermediate_size + 1, c.hidden_size},
           std::vector<float>(size_t((c.intermediate_size + 1) * c.hidden_size)));
  try {
    load_in_memory(c, bad);
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(LlmModel, KitCheckpointWithWrongConfigNamesFileAndKey) {
  const std::string dir = test::shared_path("conformance/models/tiny-siglip-c");
  if (dir.empty()) GTEST_SKIP() << "../shared/conformance not found";
  io::ModelConfig cfg = io::load_model_config(dir);
  cfg.llm.intermediate_size += 8;
  try {
    Llm::load(cfg, io::WeightStore::open(dir));
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("language_model.model.layers.0.mlp.gate_proj.weight"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  }
}

TEST(LlmModel, PrepareInputsEmbedsChecksImageCountAndIds) {
  const io::LlmConfig c = small_config(2, 2);
  io::ModelConfig mc;
  mc.llm = c;
  mc.chat.num_image_tokens = 3;  // small image runs for the test
  auto w = make_random_llm_weights(c, DType::kF32, 1);
  auto m = Llm::load(mc, w->source(), w);
  const int32_t img = 50;
  const std::vector<int32_t> ids = {1, img, img, img, 7, -5, img, img, img, 2};
  std::vector<float> emb(size_t(6 * c.hidden_size));
  for (size_t i = 0; i < emb.size(); ++i) emb[i] = float(i);
  const Tensor e = m->prepare_inputs_embeds(ids.data(), int64_t(ids.size()), img, emb.data(), 2);
  const int64_t H = c.hidden_size;
  // Image rows in order; text rows are embeddings; a negative id embeds as id 0.
  EXPECT_EQ(e.ptr()[1 * H], emb[0]);
  EXPECT_EQ(e.ptr()[6 * H], emb[size_t(3 * H)]);
  EXPECT_EQ(e.ptr()[8 * H + 5], emb[size_t(5 * H + 5)]);
  std::vector<float> row0(static_cast<size_t>(H)), row5(static_cast<size_t>(H));
  const int32_t zero = 0;
  m->embed(&zero, 1, row0.data());
  std::memcpy(row5.data(), e.ptr() + 5 * H, sizeof(float) * size_t(H));
  EXPECT_EQ(row5, row0);
  try {
    m->prepare_inputs_embeds(ids.data(), int64_t(ids.size()), img, emb.data(), 1);
    FAIL() << "no error";
  } catch (const RequestError& e2) {
    EXPECT_NE(std::string(e2.what()).find("6 image-token positions"), std::string::npos)
        << e2.what();
  }
  const int32_t too_big = int32_t(c.vocab_size);
  EXPECT_THROW(m->embed(&too_big, 1, row0.data()), RequestError);
}

}  // namespace
}  // namespace dsvl::llm
