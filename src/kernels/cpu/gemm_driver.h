// The cache-blocking loop shared by the float32 and the bf16 (vdpbf16ps) register kernels.
//
// Goto-style blocking with a dynamic schedule. A is packed once for the whole of K into
// kMR-row micro-panels (k-major, so the microkernel broadcasts contiguous values), all threads
// sharing the work, in chunks of at most kPackedABytes. The chunk's product is then cut into
// work units, about kUnitRows rows of C by one group of B panels (kBGroupBytes per K block, or
// fewer panels so that each thread gets at least kMinUnitsPerThread units), over all of K; the
// threads take units from a shared counter until none is left. Per unit and K block the thread
// packs its B group (widening or rounding the stored dtype) into k-major kNR-column panels; the
// microkernel keeps a kMR×32 tile of C in registers, its A micro-panel in L1 while the group's
// panels stream from L2.
//
// Kernel provides: types AT/BT (packed element types), kMR, kKC, a_elems(kc) and b_elems(kc)
// (packed elements per row of A / per B panel), pack_a(A, lda, mr, kc, dst),
// pack_b(B, n0, nr, k0, kc, dst) and micro(kc, Ap, Bp, C, ldc, mr, nr, bias, load_c).
#pragma once

#include <algorithm>
#include <atomic>
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

// Packed A per chunk of rows: A is packed for the whole of K, at most this much at a time.
constexpr int64_t kPackedABytes = int64_t(16) << 20;
// Rows of C per work unit, about (a whole number of micro-panels). Against the static split
// it replaced (half the columns per thread), alternating in one process on Zen 3: medians +1%
// to +11% over ten LLM, SigLIP-L and SAM-B shapes; units of 576 rows −6% to +6% against 288.
constexpr int64_t kUnitRows = 288;
// Fewest units per thread a product is cut into where its columns allow (B groups narrowed).
// SigLIP-L's 576×1024×1024 products (8 units of 256 columns): +5% to +11% with 16, Zen 3.
constexpr int64_t kMinUnitsPerThread = 8;

// C (+)= A·Bᵀ over all threads (on the caller's thread alone when `serial`). Why units taken
// from a counter rather than a fixed share per thread: on a shared VM each core's speed swings
// by ±15% from one product to the next, and with fixed shares the two threads of a 576-row
// product finished a median 13-16% apart (Zen 3), the faster one idle meanwhile. A unit spans
// all of K, so no thread waits for another once A is packed (a first pass over the pool), and
// results stay bit for bit the same (each element is summed in the canonical order by whichever
// thread owns it).
template <typename Kernel>
void gemm_units(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                int64_t N, int64_t K, const Epilogue& ep, bool serial) {
  using AT = typename Kernel::AT;
  using BT = typename Kernel::BT;
  constexpr int kMR = Kernel::kMR, kKC = Kernel::kKC;
  constexpr int64_t a_panel = kMR * Kernel::a_elems(kKC), b_panel = Kernel::b_elems(kKC);
  constexpr int64_t kNCPanels =
      std::max<int64_t>(1, kBGroupBytes / (b_panel * int64_t(sizeof(BT))));
  constexpr int64_t kGroupCols = kNCPanels * kNR;
  const int64_t k_blocks = (K + kKC - 1) / kKC, m_panels = (M + kMR - 1) / kMR;
  const int64_t chunk_panels =
      std::clamp<int64_t>(kPackedABytes / (k_blocks * a_panel * int64_t(sizeof(AT))), 1, m_panels);
  thread_local std::vector<AT> abuf;  // the caller's: all threads read it
  // [k block][micro-panel of the chunk][a_panel]
  AT* Ap = scratch(abuf, size_t(chunk_panels * k_blocks * a_panel));
  // B groups are narrowed (halved, down to one panel) until the product has at least
  // kMinUnitsPerThread units per thread: with fewer, the last unit leaves the other thread idle
  // for a large share of the product. Narrower groups cost no extra packing (each unit packs
  // its own columns either way), only more passes over A, which the product reads from L3.
  // Row units of about kUnitRows rows in a chunk of cp micro-panels (at least one).
  const auto rows_by_size = [](int64_t cp) {
    return std::max<int64_t>(1, (cp * kMR + kUnitRows / 2) / kUnitRows);
  };
  int64_t group_cols = kGroupCols;
  if (!serial) {
    const int64_t rows_units = rows_by_size(std::min(chunk_panels, m_panels));
    while (group_cols > kNR &&
           (N + group_cols - 1) / group_cols * rows_units < kMinUnitsPerThread * num_threads())
      group_cols /= 2;
  }
  const int64_t groups = (N + group_cols - 1) / group_cols;
  for (int64_t c0 = 0; c0 < m_panels; c0 += chunk_panels) {
    const int64_t cp = std::min(chunk_panels, m_panels - c0);
    // At least two units per thread where the rows allow (a product of one B group would
    // otherwise be one unit, on one thread).
    const int64_t min_splits = serial ? 1 : (2 * num_threads() + groups - 1) / groups;
    const int64_t rows_split = std::clamp<int64_t>(std::max(min_splits, rows_by_size(cp)), 1, cp);
    const int64_t unit_panels = (cp + rows_split - 1) / rows_split;
    const int64_t row_units = (cp + unit_panels - 1) / unit_panels;
    const int64_t units = groups * row_units;  // unit u: group u / row_units, rows u % row_units
    const auto pack = [&](int64_t q_begin, int64_t q_end) {
      for (int64_t q = q_begin; q < q_end; ++q) {
        const int64_t i0 = (c0 + q) * kMR;
        const int mr = int(std::min<int64_t>(kMR, M - i0));
        for (int64_t kb = 0; kb < k_blocks; ++kb)
          Kernel::pack_a(A + i0 * lda + kb * kKC, lda, mr,
                         int(std::min<int64_t>(kKC, K - kb * kKC)), Ap + (kb * cp + q) * a_panel);
      }
    };
    std::atomic<int64_t> next{0};
    const auto work = [&](int, int) {
      thread_local std::vector<BT> bbuf;
      BT* Bp = scratch(bbuf, size_t(kNCPanels * b_panel));
      BGroupPrefetch prefetch;
      for (int64_t u = next.fetch_add(1); u < units; u = next.fetch_add(1)) {
        const int64_t jc = u / row_units * group_cols, jn = std::min(N, jc + group_cols);
        const int64_t q0 = u % row_units * unit_panels, q1 = std::min(cp, q0 + unit_panels);
        const int64_t calls = (q1 - q0) * ((jn - jc + kNR - 1) / kNR);
        for (int64_t kb = 0; kb < k_blocks; ++kb) {
          const int64_t pc = kb * kKC;
          const int kc = int(std::min<int64_t>(kKC, K - pc));
          const bool first = kb == 0;
          for (int64_t j = jc; j < jn; j += kNR)
            Kernel::pack_b(B, j, int(std::min<int64_t>(kNR, jn - j)), pc, kc,
                           Bp + (j - jc) / kNR * b_panel);
          // The group packed next: this unit's next K block, else (likely) the next unit's first.
          if (kb + 1 < k_blocks) {
            prefetch.start(B, jc, jn, pc + kKC, int(std::min<int64_t>(kKC, K - pc - kKC)), calls);
          } else if (const int64_t peek = next.load(std::memory_order_relaxed); peek < units) {
            const int64_t pj = peek / row_units * group_cols;
            prefetch.start(B, pj, std::min(N, pj + group_cols), 0, int(std::min<int64_t>(kKC, K)),
                           calls);
          } else {
            prefetch.stop();
          }
          for (int64_t q = q0; q < q1; ++q) {
            const int64_t i0 = (c0 + q) * kMR;
            const int mr = int(std::min<int64_t>(kMR, M - i0));
            const AT* a = Ap + (kb * cp + q) * a_panel;
            for (int64_t j = jc; j < jn; j += kNR) {
              const float* bias = (first && ep.bias) ? ep.bias + j : nullptr;
              prefetch.step();
              Kernel::micro(kc, a, Bp + (j - jc) / kNR * b_panel, C + i0 * ldc + j, ldc, mr,
                            int(std::min<int64_t>(kNR, jn - j)), bias, !first || ep.accumulate);
            }
          }
        }
      }
    };
    if (serial) {
      pack(0, cp);
      work(0, 1);
    } else {
      parallel_for(cp, pack);
      parallel_run(work);
    }
  }
}

// Runs the blocked GEMM on all threads (serially for tiny products).
template <typename Kernel>
void gemm_blocked(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                  int64_t N, int64_t K, const Epilogue& ep) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return apply_empty_k(C, ldc, M, N, ep);
  gemm_units<Kernel>(A, lda, B, C, ldc, M, N, K, ep, M * N * K < (int64_t(1) << 18));
}

}  // namespace dsvl::kernels::detail
