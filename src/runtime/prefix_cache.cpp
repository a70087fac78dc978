#include "runtime/prefix_cache.h"

#include <algorithm>

namespace dsvl::runtime {

std::vector<uint64_t> prefix_keys(const std::vector<int32_t>& ids, int32_t image_token_id,
                                  const std::vector<uint64_t>& image_hashes, int64_t image_tokens) {
  std::vector<uint64_t> keys(ids.size());
  int64_t image_pos = 0;  // image positions seen so far
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != image_token_id || image_hashes.empty()) {
      keys[i] = uint64_t(uint32_t(ids[i]));  // below 2^32: never equal to an image key
      continue;
    }
    const size_t image = size_t(image_pos / image_tokens);
    const uint64_t h = image < image_hashes.size() ? image_hashes[image] : 0;
    // Mix the position in, and keep the top bit set so that no token id can collide.
    uint64_t k = h ^ (uint64_t(image_pos % image_tokens) * 0x9E3779B97F4A7C15ull);
    keys[i] = (k * 0xBF58476D1CE4E5B9ull) | (uint64_t(1) << 63);
    ++image_pos;
  }
  return keys;
}

PrefixCache::Hit PrefixCache::find(const std::vector<uint64_t>& keys) {
  Hit best;
  auto best_it = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const auto& k = it->keys;
    const size_t n = std::min(k.size(), keys.size());
    const size_t m =
        size_t(std::mismatch(k.begin(), k.begin() + int64_t(n), keys.begin()).first - k.begin());
    if (int64_t(m) > best.n) {
      best = {it->kv.get(), int64_t(m)};
      best_it = it;
    }
  }
  if (best_it != entries_.end()) entries_.splice(entries_.begin(), entries_, best_it);
  return best;
}

void PrefixCache::put(const std::vector<uint64_t>& keys, const KvCache& kv,
                      const io::LlmConfig& config) {
  const int64_t n = int64_t(keys.size());
  if (n == 0 || n > max_ || n > kv.size()) return;
  for (const Entry& e : entries_)  // already there (e.g. the same prompt, stopped early)
    if (e.keys.size() >= keys.size() && std::equal(keys.begin(), keys.end(), e.keys.begin()))
      return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto& k = it->keys;
    if (k.size() <= keys.size() && std::equal(k.begin(), k.end(), keys.begin())) {
      used_ -= int64_t(k.size());
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  while (used_ + n > max_ && !entries_.empty()) {
    used_ -= int64_t(entries_.back().keys.size());
    entries_.pop_back();
  }
  // A compact copy: the sequence's cache was sized for prompt + max tokens.
  auto copy = std::make_unique<KvCache>(config, n, kv.dtype());
  copy_positions(kv.view(), copy->view(), n);
  copy->view().n_past = n;
  entries_.push_front({keys, std::move(copy)});
  used_ += n;
}

}  // namespace dsvl::runtime
