// The cache-blocking loop shared by the float32 and the bf16 (vdpbf16ps) register kernels.
//
// Goto-style blocking: for each K block of Kernel::kKC, every thread packs its rows of A into
// kMR-row micro-panels (k-major, so the microkernel broadcasts contiguous values) and, for
// each group of B panels (kBGroupBytes) of its column range, packs B (widening or rounding the
// stored dtype) into k-major kNR-column panels. The microkernel keeps a kMR×32 tile of C in
// registers; its A micro-panel stays in L1 while the B panels of the group stream from L2.
//
// Kernel provides: types AT/BT (packed element types), kMR, kKC, a_elems(kc) and b_elems(kc)
// (packed elements per row of A / per B panel), pack_a(A, lda, mr, kc, dst),
// pack_b(B, n0, nr, k0, kc, dst) and micro(kc, Ap, Bp, C, ldc, mr, nr, bias, load_c).
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "kernels/cpu/gemm_internal.h"

namespace dsvl::kernels::detail {

// Packed B per K block: 512 KB, so it stays in L2 (1 MB on Zen 4/5, 2 MB on Sapphire Rapids)
// beside the A micro-panel and the C tiles; 256 KB for AVX2 CPUs (Zen 3: 512 KB of L2;
// measured 128 KB −5%, 512 KB −4%).
#if defined(__AVX512F__) || !(defined(__AVX2__) && defined(__FMA__))
constexpr int64_t kBGroupBytes = 512 * 1024;
#else
constexpr int64_t kBGroupBytes = 256 * 1024;
#endif

// Walks the stored B elements of the next group of panels to be packed (rows [n0, n1),
// columns [k0, k0 + kc)) and prefetches them into L2 a few lines per microkernel call, so the
// pack finds them in cache rather than waiting on DRAM for each short row segment (1 KB of a
// BF16 row per K block, rows kilobytes apart). (Tried in the AMX driver, which packs
// whole-K panels: no gain measured there.)
class BGroupPrefetch {
 public:
  void start(const BMatrix& B, int64_t n0, int64_t n1, int64_t k0, int64_t kc, int64_t calls) {
    const auto es = int64_t(dtype_size(B.dtype));
    if (B.panels) {  // "rows" are the panels, each block's pair rows one contiguous segment
      base_ = static_cast<const char*>(B.data) + k0 / 2 * 2 * kNR * es;
      row_bytes_ = panel_elems(B.ld) * es;
      seg_bytes_ = (kc + 1) / 2 * 2 * kNR * es;
      row_ = n0 / kNR;
      row_end_ = (n1 + kNR - 1) / kNR;
    } else {
      base_ = static_cast<const char*>(B.data) + k0 * es;
      row_bytes_ = B.ld * es;
      seg_bytes_ = kc * es;
      row_ = n0;
      row_end_ = n1;
    }
    const int64_t lines = (row_end_ - row_) * ((seg_bytes_ + 63) / 64 + 1);
    per_call_ = calls > 0 ? (lines + calls - 1) / calls : 0;
    begin_row();
  }
  void stop() { row_ = row_end_ = 0; }
  // Issues this call's share of prefetches.
  void step() {
    for (int64_t i = 0; i < per_call_ && row_ < row_end_; ++i) {
      __builtin_prefetch(cur_, 0, 2);
      cur_ += 64;
      if (cur_ >= end_) {
        ++row_;
        begin_row();
      }
    }
  }

 private:
  void begin_row() {
    const char* p = base_ + row_ * row_bytes_;
    cur_ = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63));
    end_ = p + seg_bytes_;
  }
  const char *base_ = nullptr, *cur_ = nullptr, *end_ = nullptr;
  int64_t row_bytes_ = 0, seg_bytes_ = 0, row_ = 0, row_end_ = 0, per_call_ = 0;
};

template <typename Kernel>
void gemm_blocked_range(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc,
                        const Range2D& r, int64_t K, const Epilogue& ep) {
  constexpr int kMR = Kernel::kMR, kKC = Kernel::kKC;
  thread_local std::vector<typename Kernel::AT> abuf;
  thread_local std::vector<typename Kernel::BT> bbuf;
  const int64_t m_panels = (r.m1 - r.m0 + kMR - 1) / kMR;
  const int64_t a_panel = kMR * Kernel::a_elems(kKC), b_panel = Kernel::b_elems(kKC);
  constexpr int64_t kNCPanels =
      std::max<int64_t>(1, kBGroupBytes / (Kernel::b_elems(kKC) * sizeof(typename Kernel::BT)));
  auto* Ap = scratch(abuf, size_t(m_panels * a_panel));
  auto* Bp = scratch(bbuf, size_t(kNCPanels * b_panel));
  constexpr int64_t kGroupCols = kNCPanels * kNR;
  BGroupPrefetch prefetch;
  for (int64_t pc = 0; pc < K; pc += kKC) {
    const int kc = int(std::min<int64_t>(kKC, K - pc));
    const bool first = pc == 0;
    for (int64_t p = 0; p < m_panels; ++p) {
      const int64_t i0 = r.m0 + p * kMR;
      Kernel::pack_a(A + i0 * lda + pc, lda, int(std::min<int64_t>(kMR, r.m1 - i0)), kc,
                     Ap + p * a_panel);
    }
    for (int64_t jc = r.n0; jc < r.n1; jc += kGroupCols) {
      const int64_t jn = std::min<int64_t>(r.n1, jc + kGroupCols);
      for (int64_t j = jc; j < jn; j += kNR)
        Kernel::pack_b(B, j, int(std::min<int64_t>(kNR, jn - j)), pc, kc,
                       Bp + (j - jc) / kNR * b_panel);
      // The group packed next: the following columns of this K block, else the first
      // columns of the next K block.
      const int64_t calls = m_panels * ((jn - jc + kNR - 1) / kNR);
      if (jn < r.n1)
        prefetch.start(B, jn, std::min(r.n1, jn + kGroupCols), pc, kc, calls);
      else if (pc + kKC < K)
        prefetch.start(B, r.n0, std::min(r.n1, r.n0 + kGroupCols), pc + kKC,
                       int(std::min<int64_t>(kKC, K - pc - kKC)), calls);
      else
        prefetch.stop();
      for (int64_t p = 0; p < m_panels; ++p) {
        const int64_t i0 = r.m0 + p * kMR;
        const int mr = int(std::min<int64_t>(kMR, r.m1 - i0));
        for (int64_t j = jc; j < jn; j += kNR) {
          const float* bias = (first && ep.bias) ? ep.bias + j : nullptr;
          prefetch.step();
          Kernel::micro(kc, Ap + p * a_panel, Bp + (j - jc) / kNR * b_panel, C + i0 * ldc + j, ldc,
                        mr, int(std::min<int64_t>(kNR, jn - j)), bias, !first || ep.accumulate);
        }
      }
    }
  }
}

// Runs the blocked GEMM on all threads (serially for tiny products).
template <typename Kernel>
void gemm_blocked(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                  int64_t N, int64_t K, const Epilogue& ep) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return apply_empty_k(C, ldc, M, N, ep);
  const auto work = [&](int t, int nt) {
    const Range2D r = split_work(M, N, Kernel::kMR, t, nt);
    if (r.m0 < r.m1 && r.n0 < r.n1) gemm_blocked_range<Kernel>(A, lda, B, C, ldc, r, K, ep);
  };
  if (M * N * K < (int64_t(1) << 18))
    work(0, 1);
  else
    parallel_run(work);
}

}  // namespace dsvl::kernels::detail
