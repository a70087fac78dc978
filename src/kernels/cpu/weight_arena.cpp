#include "kernels/cpu/weight_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

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

}  // namespace

TensorView WeightArena::matrix(const TensorView& w) {
  if (precision_ == Precision::kF32 || w.dtype == DType::kBF16) return w;
  owned_.push_back(to_bf16(w));
  owned_bytes_ += int64_t(owned_.back().data.size() * sizeof(uint16_t));
  release_source_pages(w);
  return owned_.back().view();
}

const char* precision_name(Precision p) { return p == Precision::kBF16 ? "bf16" : "f32"; }

}  // namespace dsvl::kernels
