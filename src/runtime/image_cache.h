// The image-embedding cache of the engine: an image's aligned embeddings [576, hidden] by the
// hash of its encoded bytes, least recently used out past a byte budget, so the same image
// is never encoded twice while cached. Not thread-safe (the scheduler thread owns it).
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <utility>

#include "core/tensor.h"

namespace dsvl::runtime {

class ImageCache {
 public:
  explicit ImageCache(int64_t budget_bytes) : budget_(budget_bytes) {}

  const Tensor* find(uint64_t key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->second;
  }

  void put(uint64_t key, Tensor t) {
    const int64_t bytes = t.numel() * 4;
    if (bytes > budget_ || map_.count(key)) return;
    while (used_ + bytes > budget_ && !lru_.empty()) {
      used_ -= lru_.back().second.numel() * 4;
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
    lru_.emplace_front(key, std::move(t));
    map_[key] = lru_.begin();
    used_ += bytes;
  }

 private:
  using Lru = std::list<std::pair<uint64_t, Tensor>>;
  int64_t budget_, used_ = 0;
  Lru lru_;
  std::unordered_map<uint64_t, Lru::iterator> map_;
};

}  // namespace dsvl::runtime
