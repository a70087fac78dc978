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

const size_t kPage = size_t(sysconf(_SC_PAGESIZE));

// `pages` pages of a patterned temp file, mapped read-only and shared as the loader maps a
// checkpoint; unmapped and deleted at scope exit. `data` is null if any step failed.
struct MappedTempFile {
  std::vector<uint8_t> want;
  std::string path = "/tmp/dsvl-file-mappings-XXXXXX";
  const uint8_t* data = nullptr;

  explicit MappedTempFile(size_t pages) : want(pages * kPage) {
    for (size_t i = 0; i < want.size(); ++i) want[i] = uint8_t(i * 131 + 7);
    const int fd = mkstemp(path.data());
    if (fd < 0) return;
    const bool written = write(fd, want.data(), want.size()) == ssize_t(want.size());
    void* m = written ? mmap(nullptr, want.size(), PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (m != MAP_FAILED) data = static_cast<const uint8_t*>(m);
  }
  ~MappedTempFile() {
    if (data) munmap(const_cast<uint8_t*>(data), want.size());
    std::remove(path.c_str());
  }
  std::vector<uint8_t> contents() const { return {data, data + want.size()}; }
};

// Releasing pages never changes what the memory holds: a file mapping refaults from the
// page cache, anonymous memory is left alone.
TEST(FileMappings, ReleasedPagesKeepTheirContents) {
  const MappedTempFile f(8);
  ASSERT_NE(f.data, nullptr);
  const size_t n = f.want.size();
  volatile uint8_t touch = 0;
  for (size_t i = 0; i < n; i += kPage) touch = touch + f.data[i];
  register_file_mapping(f.data, n);
  release_pages(f.data + 100, n - 200);  // whole pages inside only
  EXPECT_EQ(f.contents(), f.want);
  unregister_file_mapping(f.data);

  std::vector<uint8_t> heap = f.want;
  release_pages(heap.data(), heap.size());
  EXPECT_EQ(heap, f.want);
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
  const MappedTempFile f(64);
  ASSERT_NE(f.data, nullptr);
  EXPECT_EQ(mapping_rss_kb(f.data), 0) << "nothing touched yet";
  prefault_pages(f.data, f.want.size());
  EXPECT_EQ(mapping_rss_kb(f.data), long(f.want.size() / 1024));
  EXPECT_EQ(f.contents(), f.want);
}

}  // namespace
}  // namespace dsvl
