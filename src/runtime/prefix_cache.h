// The KV prefix cache: the caches of finished sequences, so that a request whose prompt
// starts like an earlier prompt + answer (the next turn of a chat, or just the same system
// prompt) computes only the rest. A position's key is its token id, or at an image position
// the hash of the image's bytes and the position within the image, so two prompts share a
// prefix only if the images in it are the same. Bounded by a number of positions, least
// recently used entries first out. Not thread-safe (the engine's scheduler thread owns it).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "runtime/kv_cache.h"

namespace dsvl::runtime {

// One key per position of `ids` (expanded prompt ids: each image is image_tokens
// consecutive image_token_id, in the order of image_hashes).
std::vector<uint64_t> prefix_keys(const std::vector<int32_t>& ids, int32_t image_token_id,
                                  const std::vector<uint64_t>& image_hashes, int64_t image_tokens);

class PrefixCache {
 public:
  explicit PrefixCache(int64_t max_positions) : max_(max_positions) {}

  struct Hit {
    const KvCache* kv = nullptr;  // valid until the next put()
    int64_t n = 0;                // positions of `keys` it holds
  };
  // The entry sharing the longest prefix with `keys` (n = 0 if none).
  Hit find(const std::vector<uint64_t>& keys);
  // Stores the first keys.size() positions of `kv` (a compact copy). Entries that are a
  // prefix of it are dropped (the chat moved on); then the least recently used ones while
  // over the bound. Does nothing for an empty key list or one above the bound.
  void put(const std::vector<uint64_t>& keys, const KvCache& kv, const io::LlmConfig& config);

  int64_t positions() const { return used_; }
  size_t entries() const { return entries_.size(); }

 private:
  struct Entry {
    std::vector<uint64_t> keys;
    std::unique_ptr<KvCache> kv;
  };
  int64_t max_, used_ = 0;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace dsvl::runtime
