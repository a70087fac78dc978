// The engine's two caches keep their memory bounds: the image-embedding cache (bytes, least
// recently used out) and the KV prefix cache (positions, least recently used out, entries
// that a longer one extends dropped).
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "runtime/image_cache.h"
#include "runtime/kv_cache.h"
#include "runtime/prefix_cache.h"

namespace dsvl::runtime {
namespace {

Tensor filled(int64_t n, float v) {
  Tensor t({n});
  std::fill(t.data.begin(), t.data.end(), v);
  return t;
}

TEST(ImageCache, FindsByKeyAndEvictsLeastRecentlyUsedPastTheBudget) {
  ImageCache cache(3 * 100 * 4);  // room for three tensors of 100 floats
  cache.put(1, filled(100, 1));
  cache.put(2, filled(100, 2));
  cache.put(3, filled(100, 3));
  ASSERT_NE(cache.find(1), nullptr);  // 1 is now the most recently used
  EXPECT_EQ(cache.find(1)->data[0], 1.0f);
  cache.put(4, filled(100, 4));  // evicts 2, the least recently used
  EXPECT_EQ(cache.find(2), nullptr);
  EXPECT_NE(cache.find(1), nullptr);
  EXPECT_NE(cache.find(3), nullptr);
  EXPECT_NE(cache.find(4), nullptr);
}

TEST(ImageCache, RefusesWhatCannotFitAndKeepsTheFirstCopy) {
  ImageCache cache(100 * 4);
  cache.put(1, filled(101, 1));  // over the whole budget: not stored
  EXPECT_EQ(cache.find(1), nullptr);
  cache.put(2, filled(100, 2));
  cache.put(2, filled(100, 5));  // already there: unchanged
  EXPECT_EQ(cache.find(2)->data[0], 2.0f);
  ImageCache off(0);
  off.put(1, filled(1, 1));
  EXPECT_EQ(off.find(1), nullptr);
}

io::LlmConfig tiny_llm() {
  return {.hidden_size = 8,
          .num_hidden_layers = 1,
          .num_attention_heads = 2,
          .num_key_value_heads = 2,
          .max_position_embeddings = 64};
}

// A KV cache whose n positions are filled (contents do not matter to the prefix cache).
KvCache filled_kv(const io::LlmConfig& c, int64_t n, DType dtype = DType::kF32) {
  KvCache kv(c, n, dtype);
  kv.view().n_past = n;
  return kv;
}

std::vector<uint64_t> keys(std::initializer_list<uint64_t> k) { return k; }

TEST(PrefixCache, LongestSharedPrefixWins) {
  const io::LlmConfig c = tiny_llm();
  PrefixCache cache(100);
  cache.put(keys({1, 2, 3}), filled_kv(c, 3), c);
  cache.put(keys({1, 5, 6, 7}), filled_kv(c, 4), c);
  EXPECT_EQ(cache.find(keys({1, 2, 3, 4})).n, 3);
  EXPECT_EQ(cache.find(keys({1, 5, 9})).n, 2);
  EXPECT_EQ(cache.find(keys({9})).n, 0);
  EXPECT_EQ(cache.find(keys({9})).kv, nullptr);
}

TEST(PrefixCache, StaysWithinItsPositionBound) {
  const io::LlmConfig c = tiny_llm();
  PrefixCache cache(10);
  cache.put(keys({1, 2, 3, 4}), filled_kv(c, 4), c);
  cache.put(keys({5, 6, 7, 8}), filled_kv(c, 4), c);
  EXPECT_EQ(cache.positions(), 8);
  cache.find(keys({1}));                             // {1,2,3,4} is now the most recently used
  cache.put(keys({9, 10, 11}), filled_kv(c, 3), c);  // 11 > 10: {5,6,7,8} goes
  EXPECT_EQ(cache.positions(), 7);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.find(keys({5, 6})).n, 0);
  EXPECT_EQ(cache.find(keys({1, 2})).n, 2);
  cache.put(std::vector<uint64_t>(11, 7), filled_kv(c, 11), c);  // above the bound: ignored
  EXPECT_EQ(cache.positions(), 7);
  for (int i = 0; i < 50; ++i) {  // many distinct prompts never exceed the bound
    cache.put(keys({uint64_t(100 + i), 1, 2}), filled_kv(c, 3), c);
    EXPECT_LE(cache.positions(), 10);
  }
}

TEST(PrefixCache, TheNextTurnReplacesTheEntryItExtends) {
  const io::LlmConfig c = tiny_llm();
  PrefixCache cache(100);
  cache.put(keys({1, 2, 3}), filled_kv(c, 3), c);
  cache.put(keys({1, 2, 3, 4, 5}), filled_kv(c, 5), c);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.positions(), 5);
  cache.put(keys({1, 2}), filled_kv(c, 2), c);  // a prefix of what is there: nothing new
  EXPECT_EQ(cache.entries(), 1u);
}

// Element (position p, component c) of one head's packed keys (llm/kv_view.h): panels of 32
// positions, each pairs of components (c rounded down to even) for its 32 positions in turn.
int64_t packed_key_index(int64_t p, int64_t c, int64_t head_dim) {
  const int64_t pair_rows = (head_dim + 31) / 32 * 32;
  return p / 32 * pair_rows * 32 + c / 2 * 64 + 2 * (p % 32) + c % 2;
}

TEST(KvCache, Bf16HalvesTheBytesAndCopiesItsPositions) {
  const io::LlmConfig c = tiny_llm();  // head_dim 4: values in rows
  KvCache f(c, 8), b(c, 8, DType::kBF16);
  EXPECT_EQ(b.bytes_per_position() * 2, f.bytes_per_position());
  EXPECT_EQ(b.bytes_per_position(), KvCache::bytes_per_position(c, DType::kBF16));
  // The values half of f32's; the keys packed: 8 positions stored as one panel of 32, head_dim
  // 4 padded to 32.
  const size_t heads = size_t(c.num_hidden_layers) * size_t(c.num_key_value_heads);
  EXPECT_EQ(b.bytes(), f.bytes() / 4 + heads * 32 * 32 * 2);
  EXPECT_THROW(KvCache(c, 8, DType::kF16), ConfigError);
  // Fill 5 positions of every layer/head with distinct bf16 patterns, copy 3 of them.
  const llm::KvView& v = b.view();
  ASSERT_TRUE(v.k_packed());
  auto* k16 = static_cast<uint16_t*>(v.k);
  auto* v16 = static_cast<uint16_t*>(v.v);
  for (int64_t e = 0; e < int64_t(v.n_layers) * v.k_layer_stride(); ++e) k16[e] = uint16_t(e);
  for (int64_t e = 0; e < int64_t(v.n_layers) * v.layer_stride(); ++e) v16[e] = uint16_t(e + 7);
  KvCache dst(c, 4, DType::kBF16);
  copy_positions(b.view(), dst.view(), 3);
  const llm::KvView& d = dst.view();
  for (int l = 0; l < v.n_layers; ++l)
    for (int h = 0; h < v.n_kv_heads; ++h)
      for (int64_t p = 0; p < 3; ++p)
        for (int64_t i = 0; i < v.head_dim; ++i) {
          const int64_t ki = packed_key_index(p, i, v.head_dim);
          ASSERT_EQ(static_cast<uint16_t*>(d.layer_k(l))[h * d.k_head_stride + ki],
                    static_cast<uint16_t*>(v.layer_k(l))[h * v.k_head_stride + ki]);
          const int64_t so = l * v.layer_stride() + h * v.head_stride() + p * v.head_dim + i;
          const int64_t dof = l * d.layer_stride() + h * d.head_stride() + p * d.head_dim + i;
          ASSERT_EQ(static_cast<uint16_t*>(d.v)[dof], v16[so]);
        }
  EXPECT_THROW(copy_positions(f.view(), dst.view(), 3), RequestError);  // dtypes differ
}

TEST(KvCache, CopiesBf16ValueBlocksBetweenCapacities) {
  // head_dim 128: the values are two blocks of 64 lanes, each [capacity][64], so a copy into a
  // cache of another capacity moves each block to its own offset.
  io::LlmConfig c = tiny_llm();
  c.hidden_size = 256;
  KvCache src(c, 9, DType::kBF16), dst(c, 5, DType::kBF16);
  const llm::KvView& s = src.view();
  ASSERT_EQ(s.head_dim, 128);
  auto* v16 = static_cast<uint16_t*>(s.v);
  for (int64_t e = 0; e < int64_t(s.n_layers) * s.layer_stride(); ++e) v16[e] = uint16_t(e * 3);
  copy_positions(s, dst.view(), 4);
  const llm::KvView& d = dst.view();
  for (int h = 0; h < s.n_kv_heads; ++h)
    for (int64_t p = 0; p < 4; ++p)
      for (int i = 0; i < 128; ++i) {
        const int64_t so = h * s.head_stride() + i / 64 * 9 * 64 + p * 64 + i % 64;
        const int64_t dof = h * d.head_stride() + i / 64 * 5 * 64 + p * 64 + i % 64;
        ASSERT_EQ(static_cast<uint16_t*>(d.v)[dof], v16[so]) << h << " " << p << " " << i;
      }
}

TEST(PrefixCache, KeepsTheCacheDtype) {
  const io::LlmConfig c = tiny_llm();
  PrefixCache pc(16);
  pc.put(keys({1, 2, 3}), filled_kv(c, 4, DType::kBF16), c);
  const PrefixCache::Hit hit = pc.find(keys({1, 2, 3, 4}));
  ASSERT_NE(hit.kv, nullptr);
  EXPECT_EQ(hit.kv->dtype(), DType::kBF16);
  EXPECT_EQ(hit.n, 3);
}

}  // namespace
}  // namespace dsvl::runtime
