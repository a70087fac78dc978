#include "core/file_mappings.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace dsvl {
namespace {

TEST(FileMappings, RangesAreExactAndForgotten) {
  std::vector<char> buf(10000);  // only used as addresses: never released as a "mapping"
  const char* p = buf.data();
  EXPECT_FALSE(in_file_mapping(p + 10, 100));
  register_file_mapping(p + 1000, 5000);
  EXPECT_TRUE(in_file_mapping(p + 1000, 5000));
  EXPECT_TRUE(in_file_mapping(p + 2000, 10));
  EXPECT_FALSE(in_file_mapping(p + 999, 10));   // starts before
  EXPECT_FALSE(in_file_mapping(p + 5990, 20));  // runs past the end
  EXPECT_FALSE(in_file_mapping(p + 6000, 1));
  unregister_file_mapping(p + 1000);
  EXPECT_FALSE(in_file_mapping(p + 2000, 10));
}

// Releasing pages never changes what the memory holds: a file mapping refaults from the
// page cache, anonymous memory is left alone.
TEST(FileMappings, ReleasedPagesKeepTheirContents) {
  const long page = sysconf(_SC_PAGESIZE);
  const size_t n = size_t(page) * 8;
  std::vector<uint8_t> want(n);
  for (size_t i = 0; i < n; ++i) want[i] = uint8_t(i * 131 + 7);

  char path[] = "/tmp/dsvl-file-mappings-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, want.data(), n), ssize_t(n));
  void* m = mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(m, MAP_FAILED);
  const auto* bytes = static_cast<const uint8_t*>(m);
  volatile uint8_t touch = 0;
  for (size_t i = 0; i < n; i += size_t(page)) touch = touch + bytes[i];
  register_file_mapping(m, n);
  release_pages(bytes + 100, n - 200);  // whole pages inside only
  EXPECT_EQ(std::vector<uint8_t>(bytes, bytes + n), want);
  unregister_file_mapping(m);
  munmap(m, n);
  std::remove(path);

  std::vector<uint8_t> heap = want;
  release_pages(heap.data(), heap.size());
  EXPECT_EQ(heap, want);
}

// kB of this process's memory resident in the mapping that starts at `p` (/proc/self/smaps).
long mapping_rss_kb(const void* p) {
  char head[32];
  std::snprintf(head, sizeof head, "%lx-",
                static_cast<unsigned long>(reinterpret_cast<uintptr_t>(p)));
  std::ifstream smaps("/proc/self/smaps");
  bool in = false;
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind(head, 0) == 0)
      in = true;
    else if (in && line.rfind("Rss:", 0) == 0)
      return std::stol(line.substr(4));
  }
  return -1;
}

// Prefaulting maps every page of the range into the process, without changing a byte.
TEST(FileMappings, PrefaultMapsEveryPage) {
  const long page = sysconf(_SC_PAGESIZE);
  const size_t n = size_t(page) * 64;
  std::vector<uint8_t> want(n);
  for (size_t i = 0; i < n; ++i) want[i] = uint8_t(i * 13 + 1);
  char path[] = "/tmp/dsvl-prefault-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, want.data(), n), ssize_t(n));
  void* m = mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(mapping_rss_kb(m), 0) << "nothing touched yet";
  prefault_pages(m, n);
  EXPECT_EQ(mapping_rss_kb(m), long(n / 1024));
  const auto* bytes = static_cast<const uint8_t*>(m);
  EXPECT_EQ(std::vector<uint8_t>(bytes, bytes + n), want);
  munmap(m, n);
  std::remove(path);
}

}  // namespace
}  // namespace dsvl
