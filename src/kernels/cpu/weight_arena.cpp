#include "kernels/cpu/weight_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/file_mappings.h"

namespace dsvl::kernels {
namespace {

// Hands the source pages of a converted weight back: the model never reads them again, and
// for an mmapped checkpoint they would otherwise stay resident beside the bf16 copy (a 7B F16
// file is 14 GB). Inside the loader's file mapping this only unmaps them (the page cache keeps
// the file for the next start); elsewhere it never changes memory contents.
void release_source_pages(const TensorView& w) { release_pages(w.data, size_t(w.nbytes())); }

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

// Panels in chunks of ~8 MB of source rows, each chunk's source pages handed back right after,
// so loading never holds a whole mapped matrix (the lm_head is 420 MB) beside its copy.
TensorView WeightArena::repacked(const TensorView& w) {
  const int64_t panels = packed_panels(w.shape), elems = packed_elems(w.shape);
  const size_t bytes = size_t(elems) * sizeof(uint16_t);
  Mapping& m = owned_.emplace_back(bytes);
  auto* dst = static_cast<uint16_t*>(m.data);
  const int64_t row_bytes = w.shape[1] * int64_t(dtype_size(w.dtype));
  const int64_t chunk = std::max<int64_t>(1, (int64_t(8) << 20) / (32 * row_bytes));
  for (int64_t p = 0; p < panels; p += chunk) {
    const int64_t pe = std::min(panels, p + chunk);
    pack_bf16_panels(w, p, pe, dst);
    const int64_t r0 = p * 32, r1 = std::min(w.shape[0], pe * 32);
    release_pages(static_cast<const std::byte*>(w.data) + r0 * row_bytes,
                  size_t((r1 - r0) * row_bytes));
  }
  owned_bytes_ += int64_t(bytes);
  return TensorView{DType::kBF16, w.shape, m.data, true};
}

TensorView WeightArena::copy(const TensorView& w) {
  const size_t bytes = size_t(w.nbytes());
  auto& p = copies_.emplace_back(new (std::align_val_t(64)) std::byte[std::max<size_t>(1, bytes)]);
  std::memcpy(p.get(), w.data, bytes);
  copied_bytes_ += int64_t(bytes);
  return TensorView{w.dtype, w.shape, p.get()};
}

TensorView WeightArena::matrix(const TensorView& w) {
  if (repack_ && w.shape.size() == 2 && (precision_ == Precision::kBF16 || w.dtype == DType::kBF16))
    return repacked(w);
  if (keeps_as_stored(precision_, w.dtype, in_memory_)) return w;
  if (w.dtype != DType::kBF16 && w.dtype != DType::kF16 && w.dtype != DType::kF32)
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
