// The weight matrices of one model as its GEMMs want them at one precision (issue #10 item 2):
//  - kF32: every view passes through as stored (F32/F16/BF16, mmapped; the float32 kernels
//    widen half types on the fly, exactly).
//  - kBF16: BF16 views pass through (zero-copy, still mmapped); F16 and F32 views are rounded
//    ONCE to bf16 copies owned by the arena (what torch's .to(torch.bfloat16) does), so the
//    GEMMs never re-round a weight per call and no float32 copy of a model ever exists.
//  - `repack` (the LLM's default): on kBF16 every matrix, BF16 included, is rounded and
//    stored in the GEMMs' panel layout (kernels::pack_bf16, llama.cpp's "repack"): the
//    GEMMs then pack nothing per call, and decode reads each thread's weights as two
//    sequential streams instead of 32 rows at a time (~15% faster decode measured on this
//    machine). On kF32 only BF16 matrices are (their values are exact there; F16 and F32
//    ones stay as stored). The same bits as the row-major weights, with every kernel.
// GEMM operands go through matrix(); the small tensors read beside them at run time (biases,
// position embeddings) through copy(). The token embedding table stays as stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/matmul.h"

namespace dsvl::kernels {

class WeightArena {
 public:
  // in_memory (kBF16 only): BF16 views are copied into the arena's huge-page memory too, and
  // their mapped pages handed back (`--no-mmap`): decode then streams 2 MB pages whatever the
  // page cache holds, at the cost of reading the file at every start.
  explicit WeightArena(Precision p = Precision::kF32, bool in_memory = false, bool repack = false)
      : precision_(p), in_memory_(in_memory), repack_(repack) {}
  // Views handed out point into the arena: it is neither copied nor moved once used.
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;

  Precision precision() const { return precision_; }

  // True when matrix() hands a weight of dtype `t` back as it is (still mapped): always on
  // kF32, BF16 on kBF16 unless in_memory (unless the arena repacks it, either way). The
  // loader prefaults those files (the towers' weights are never repacked).
  static bool keeps_as_stored(Precision p, DType t, bool in_memory) {
    return p == Precision::kF32 || (t == DType::kBF16 && !in_memory);
  }

  // The view to pass to linear()/conv2d_nhwc() with precision(): `w` itself, or a bf16 copy
  // owned here (valid for the arena's lifetime). Throws ShapeError for non-float dtypes.
  // Not thread-safe (models call it while loading).
  TensorView matrix(const TensorView& w);

  // A small tensor the model reads at run time (bias, position embedding): a copy owned here,
  // dtype and values as stored. Why not the mapped view: once the matrices around it are
  // converted (F16 checkpoints, --no-mmap) and their pages handed back, reading it faults the
  // file's whole 2 MB page back in (the page cache holds weight files in huge pages): peak RSS
  // of a 1.3B F16 checkpoint on the bf16 path went from files + 14 MiB to files − 162 MiB.
  // Not thread-safe.
  TensorView copy(const TensorView& w);

  // Bytes of the bf16 copies made (on kF32 only repacked BF16 ones; for BF16 checkpoints
  // none unless in_memory or repack; repacked copies count their padding to whole panels).
  int64_t owned_bytes() const { return owned_bytes_; }
  // Bytes of copy()'s copies.
  int64_t copied_bytes() const { return copied_bytes_; }

 private:
  TensorView repacked(const TensorView& w);

  Precision precision_;
  bool in_memory_ = false;
  bool repack_ = false;
  // One anonymous mapping per converted matrix, asked to be backed by 2 MB pages
  // (MADV_HUGEPAGE): the GEMMs stream every weight each token, and with 4 KB pages each
  // row of a 2048-wide bf16 matrix is its own page (a TLB miss and a cold prefetcher).
  struct Mapping {
    void* data = nullptr;
    size_t bytes = 0;
    Mapping(size_t n);
    ~Mapping();
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
  };
  std::deque<Mapping> owned_;  // a deque never moves its elements
  int64_t owned_bytes_ = 0;
  struct FreeAligned {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::vector<std::unique_ptr<std::byte[], FreeAligned>> copies_;  // copy()'s, 4 KB pages
  int64_t copied_bytes_ = 0;
};

// "f32" or "bf16".
const char* precision_name(Precision p);

}  // namespace dsvl::kernels
