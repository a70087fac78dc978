#include "tokenizer/bpe_tables.h"

#include <cstring>

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

uint64_t StringIdMap::hash(std::string_view key) {
  // A small multiply-xorshift hash over 8-byte words; keys are short token strings.
  const char* p = key.data();
  size_t n = key.size();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0x94D049BB133111EBull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

void StringIdMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n + 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void StringIdMap::grow() { reserve(slots_.empty() ? 8 : slots_.size()); }

void StringIdMap::insert_or_assign(std::string_view key, int32_t id) {
  if (2 * (count_ + 1) + 2 > slots_.size()) grow();
  uint64_t h = hash(key);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.id < 0) {
      s = {h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), id};
      arena_.append(key);
      ++count_;
      return;
    }
    if (s.hash == h && std::string_view(arena_.data() + s.offset, s.len) == key) {
      s.id = id;
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
