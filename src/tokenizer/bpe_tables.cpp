#include "tokenizer/bpe_tables.h"

namespace dsvl::tokenizer {

void MergeMap::reserve(size_t n) {
  size_t cap = 16;
  shift_ = 60;
  while (cap < 2 * n + 2) {
    cap <<= 1;
    --shift_;
  }
  keys_.assign(cap, kEmpty);
  values_.assign(cap, Value{0, -1});
  mask_ = cap - 1;
  count_ = 0;
}

void MergeMap::insert_or_assign(int32_t a, int32_t b, Value v) {
  if (2 * (count_ + 1) + 2 > keys_.size()) {
    // Grow: rehash everything into a table twice as large.
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Value> old_values = std::move(values_);
    reserve(old_keys.size());
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != kEmpty)
        insert_or_assign(static_cast<int32_t>(old_keys[i] >> 32),
                         static_cast<int32_t>(old_keys[i] & 0xFFFFFFFFu), old_values[i]);
  }
  uint64_t key = make_key(a, b);
  for (size_t i = slot(key);; i = (i + 1) & mask_) {
    if (keys_[i] == key) {
      values_[i] = v;
      return;
    }
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = v;
      ++count_;
      return;
    }
  }
}

bool WordCache::get(std::string_view word, std::vector<int32_t>& out) const {
  Shard& s = shard(StringHash()(word));
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.map.find(word);
  if (it == s.map.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::put(std::string_view word, const int32_t* ids, size_t n) {
  if (word.size() >= kMaxWordBytes) return;
  Shard& s = shard(StringHash()(word));
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.map.size() >= kShardCapacity) s.map.clear();
  s.map.emplace(std::string(word), std::vector<int32_t>(ids, ids + n));
}

}  // namespace dsvl::tokenizer
