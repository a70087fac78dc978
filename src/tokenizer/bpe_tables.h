// Lookup structures of the BPE model: the merge table, the byte-string vocabulary and the
// word cache. All are read concurrently by encode calls; only the cache changes after load.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsvl::tokenizer {

// (left id, right id) -> (rank, merged id), open addressing with linear probing: the merge
// loop looks pairs up millions of times per second, std::unordered_map is ~3x slower here.
class MergeMap {
 public:
  struct Value {
    uint32_t rank;
    int32_t new_id;
  };

  void reserve(size_t n);
  // A later merge of the same pair replaces an earlier one (tokenizers collects the merges
  // into a HashMap, where the last insert wins).
  void insert_or_assign(int32_t a, int32_t b, Value v);
  const Value* find(int32_t a, int32_t b) const {
    if (keys_.empty()) return nullptr;
    uint64_t key = make_key(a, b);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t make_key(int32_t a, int32_t b) {
    return (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_ & mask_; }
  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
  size_t mask_ = 0, count_ = 0;
  int shift_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// Byte strings -> id, looked up by string_view without allocating.
using BytesToId = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Cache of BPE results per piece, sharded so that concurrent encode calls rarely contend.
// A shard that fills up is cleared (the reference stops inserting instead; results are
// the same either way).
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;  // as tokenizers' MAX_LENGTH
  // Appends the cached ids of `word` to `out` and returns true on a hit.
  bool get(std::string_view word, std::vector<int32_t>& out) const;
  void put(std::string_view word, const int32_t* ids, size_t n);

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kShardCapacity = 8192;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  Shard& shard(size_t hash) const { return shards_[hash % kShards]; }
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace dsvl::tokenizer
