#include "kernels/cpu/weight_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace dsvl::kernels {
namespace {

// Asks the kernel to drop the source pages of a converted weight from this process: the
// model never reads them again, and for an mmapped checkpoint they would otherwise stay
// resident beside the bf16 copy (a 7B F16 file is 14 GB). MADV_PAGEOUT never changes memory
// contents (heap memory is left alone without swap), so it is safe for in-memory weights too;
// errors (older kernels) only mean the pages stay.
void release_source_pages(const TensorView& w) {
#if defined(MADV_PAGEOUT)
  const auto page = uintptr_t(sysconf(_SC_PAGESIZE));
  const auto begin = (uintptr_t(w.data) + page - 1) / page * page;
  const auto end = (uintptr_t(w.data) + w.nbytes()) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
#else
  (void)w;
#endif
}

constexpr size_t kHugePage = size_t(2) << 20;

}  // namespace

WeightArena::Mapping::Mapping(size_t n) : bytes((n + kHugePage - 1) / kHugePage * kHugePage) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw LimitError("cannot allocate " + std::to_string(bytes >> 20) +
                     " MiB for a bf16 weight copy: " + std::strerror(errno));
  data = p;
#if defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without THP the pages are simply 4 KB
#endif
}

WeightArena::Mapping::~Mapping() {
  if (data) munmap(data, bytes);
}

TensorView WeightArena::matrix(const TensorView& w) {
  if (precision_ == Precision::kF32 || w.dtype == DType::kBF16) return w;
  if (w.dtype != DType::kF16 && w.dtype != DType::kF32)
    throw ShapeError(std::string("to_bf16: dtype ") + dtype_name(w.dtype) + " is not a float type");
  const size_t bytes = size_t(w.numel()) * sizeof(uint16_t);
  Mapping& m = owned_.emplace_back(bytes);
  to_bf16_into(w, static_cast<uint16_t*>(m.data));
  owned_bytes_ += int64_t(bytes);
  release_source_pages(w);
  return TensorView{DType::kBF16, w.shape, m.data};
}

const char* precision_name(Precision p) { return p == Precision::kBF16 ? "bf16" : "f32"; }

}  // namespace dsvl::kernels
