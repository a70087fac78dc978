#include "core/file_mappings.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <mutex>

namespace dsvl {
namespace {

struct Registry {
  std::mutex mu;
  std::map<uintptr_t, size_t> ranges;  // begin → length
};

// Never destroyed: mappings owned by other statics (model caches) unregister during exit,
// possibly after this file's statics are gone.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

}  // namespace

void register_file_mapping(const void* p, size_t n) {
  if (!p || n == 0) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.ranges[uintptr_t(p)] = n;
}

void unregister_file_mapping(const void* p) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.ranges.erase(uintptr_t(p));
}

bool in_file_mapping(const void* p, size_t n) {
  const uintptr_t b = uintptr_t(p);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.ranges.upper_bound(b);
  if (it == r.ranges.begin()) return false;
  --it;
  return b >= it->first && b + n <= it->first + it->second;
}

void release_pages(const void* p, size_t n) {
  const auto page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(p) + page - 1) / page * page;
  const uintptr_t end = (uintptr_t(p) + n) / page * page;
  if (end <= begin) return;
  void* b = reinterpret_cast<void*>(begin);
  if (in_file_mapping(p, n)) {
    madvise(b, end - begin, MADV_DONTNEED);
    return;
  }
#if defined(MADV_PAGEOUT)
  madvise(b, end - begin, MADV_PAGEOUT);
#endif
}

void prefault_pages(const void* p, size_t n) {
  const auto page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = uintptr_t(p) / page * page, end = uintptr_t(p) + n;
  if (!p || end <= begin) return;
  void* b = reinterpret_cast<void*>(begin);
  const size_t len = end - begin;
  madvise(b, len, MADV_SEQUENTIAL);
#if defined(MADV_POPULATE_READ)
  const bool populated = madvise(b, len, MADV_POPULATE_READ) == 0;
#else
  const bool populated = false;
#endif
  if (!populated) {  // kernels before 5.14: touch one byte per page
    volatile uint8_t sink = 0;
    for (uintptr_t a = begin; a < end; a += page)
      sink = sink + *reinterpret_cast<const uint8_t*>(a);
  }
  madvise(b, len, MADV_NORMAL);  // later accesses are not sequential: default readahead
}

}  // namespace dsvl
