// The engine's two caches keep their memory bounds: the image-embedding cache (bytes, least
// recently used out) and the KV prefix cache (positions, least recently used out, entries
// that a longer one extends dropped).
#include <gtest/gtest.h>

#include <algorithm>

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
  io::LlmConfig c;
  c.hidden_size = 8;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  return c;
}

// A KV cache whose n positions are filled (contents do not matter to the prefix cache).
KvCache filled_kv(const io::LlmConfig& c, int64_t n) {
  KvCache kv(c, n);
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

}  // namespace
}  // namespace dsvl::runtime
