// bf16 GEMM on AMX tiles (Intel Sapphire Rapids and later), C (+)= bf16(A)·bf16(B)ᵀ.
//
// A is converted once to bf16 rows padded to 32 rows × 32 columns, so tiles load straight
// from it. Each thread owns a column range; it packs groups of B panels over the whole K
// (VNNI pairs, the layout of gemm_pack.cpp, sized to stay in L2) and runs a 32×32 block of C
// as 2×2 tiles of 16×16 float32 accumulators: per 32 k, two A tiles, two B tiles, four
// TDPBF16PS. Partial sums of each K block park in a per-thread buffer (L1/L2), and C is
// written once, with bias, at the end.
#include <cstring>

#include "core/threadpool.h"
#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/simd.h"

#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define DSVL_HAVE_AMX 1
#endif

namespace dsvl::kernels::detail {

#if defined(DSVL_HAVE_AMX)
namespace {

constexpr int64_t kBlockBytes = 1 << 20;  // packed B per group: half of the 2 MB L2
// K block: the two A tiles' rows (32 × 256 bf16 = 16 KB) stay in L1 across the group's
// panels, so only B tiles stream from L2 (whole-K blocks were ~10-20% slower: L2-bound).
constexpr int64_t kKC = 256;

struct TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-3: C (16×16 float32); 4-5: A (16 rows × 32 bf16); 6-7: B (16 pairs × 16 columns).
void load_tile_config() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.rows[t] = 16;
    c.colsb[t] = 64;
  }
  _tile_loadconfig(&c);
}

// acc[32][32] (+)= A[32 rows, k0..k1) · panel rows k0..k1 (k1 - k0 a multiple of 32); A rows
// are lda elements apart. With first, acc starts from zero instead of its stored value.
void tile_block(const uint16_t* A, int64_t lda, const uint16_t* Bp, int64_t k0, int64_t k1,
                float* acc, bool first) {
  if (first) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  } else {
    _tile_loadd(0, acc, 4 * 32);
    _tile_loadd(1, acc + 16, 4 * 32);
    _tile_loadd(2, acc + 16 * 32, 4 * 32);
    _tile_loadd(3, acc + 16 * 32 + 16, 4 * 32);
  }
  const int64_t a_stride = lda * 2;
  for (int64_t k = k0; k < k1; k += 32) {
    _tile_loadd(4, A + k, a_stride);
    _tile_loadd(6, Bp + k * kNR, 4 * kNR);
    _tile_loadd(7, Bp + k * kNR + 32, 4 * kNR);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, A + 16 * lda + k, a_stride);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, acc, 4 * 32);
  _tile_stored(1, acc + 16, 4 * 32);
  _tile_stored(2, acc + 16 * 32, 4 * 32);
  _tile_stored(3, acc + 16 * 32 + 16, 4 * 32);
}

// C[mr, nr] = (accumulate ? C : 0) + bias + tmp.
void store_block(const float* tmp, int mr, int nr, float* C, int64_t ldc, const float* bias,
                 bool accumulate) {
  const __mmask16 m0 = simd::mask16(nr), m1 = simd::mask16(nr - 16);
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  for (int i = 0; i < mr; ++i) {
    float* c = C + i * ldc;
    __m512 v0 = _mm512_add_ps(_mm512_load_ps(tmp + i * 32), b0);
    __m512 v1 = _mm512_add_ps(_mm512_load_ps(tmp + i * 32 + 16), b1);
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
}

void amx_range(const uint16_t* Abf, int64_t ldA, int64_t Kp, const BMatrix& B, float* C,
               int64_t ldc, const Range2D& r, int64_t K, const Epilogue& ep) {
  const int64_t panel = Kp * kNR;  // bf16 elements per packed panel
  const int64_t group = std::clamp<int64_t>(kBlockBytes / (panel * 2), 1, 16);
  thread_local std::vector<uint16_t> bbuf;
  thread_local std::vector<float> tbuf;
  uint16_t* Bp = scratch(bbuf, size_t(group * panel));
  float* acc = scratch(tbuf, size_t(group * 32 * 32));
  load_tile_config();
  for (int64_t jc = r.n0; jc < r.n1; jc += group * kNR) {
    const int64_t jn = std::min(r.n1, jc + group * kNR);
    for (int64_t j = jc; j < jn; j += kNR) {
      uint16_t* dst = Bp + (j - jc) / kNR * panel;
      pack_b_bf16(B, j, int(std::min<int64_t>(kNR, jn - j)), 0, int(K), dst);
      const int64_t done = (K + 1) / 2 * 2 * kNR;  // pairs packed so far
      std::memset(dst + done, 0, size_t(panel - done) * 2);
    }
    for (int64_t i0 = r.m0; i0 < r.m1; i0 += 32) {
      const int mr = int(std::min<int64_t>(32, r.m1 - i0));
      for (int64_t kb = 0; kb < Kp; kb += kKC)
        for (int64_t j = jc; j < jn; j += kNR)
          tile_block(Abf + i0 * ldA, ldA, Bp + (j - jc) / kNR * panel, kb, std::min(Kp, kb + kKC),
                     acc + (j - jc) / kNR * 1024, kb == 0);
      for (int64_t j = jc; j < jn; j += kNR) {
        store_block(acc + (j - jc) / kNR * 1024, mr, int(std::min<int64_t>(kNR, jn - j)),
                    C + i0 * ldc + j, ldc, ep.bias ? ep.bias + j : nullptr, ep.accumulate);
      }
    }
  }
  _tile_release();
}

}  // namespace

bool amx_usable() {
  static const bool ok = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    if (!((d >> 22) & 1u) || !((d >> 24) & 1u)) return false;  // AMX-BF16, AMX-TILE
    // Linux hands out the 8 KB tile state only on request (ARCH_REQ_XCOMP_PERM, XTILEDATA).
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
  }();
  return ok;
}

bool gemm_bf16_amx(const float* A, int64_t lda, const BMatrix& B, float* C, int64_t ldc, int64_t M,
                   int64_t N, int64_t K, const Epilogue& ep) {
  if (!amx_usable()) return false;
  if (M <= 0 || N <= 0) return true;
  if (K <= 0) {
    apply_empty_k(C, ldc, M, N, ep);
    return true;
  }
  const int64_t Mp = (M + 31) / 32 * 32, Kp = (K + 31) / 32 * 32;
  thread_local std::vector<uint16_t> abuf;
  const int64_t ldA = Kp + 32;  // +64 bytes: rows 4 KB apart would share L1 sets
  uint16_t* Abf = scratch(abuf, size_t(Mp * ldA));
  parallel_for(
      Mp,
      [&](int64_t b, int64_t e) {
        const int64_t valid = std::max<int64_t>(0, std::min(e, M) - b);
        if (valid > 0) convert_a_bf16(A + b * lda, lda, valid, 0, K, Abf + b * ldA, ldA);
        if (b + valid < e)
          std::memset(Abf + (b + valid) * ldA, 0, size_t((e - b - valid) * ldA) * 2);
      },
      64);
  parallel_run([&](int t, int nt) {
    const Range2D r = split_work(M, N, 32, t, nt);
    if (r.m0 < r.m1 && r.n0 < r.n1) amx_range(Abf, ldA, Kp, B, C, ldc, r, K, ep);
  });
  return true;
}

#else

bool amx_usable() { return false; }

bool gemm_bf16_amx(const float*, int64_t, const BMatrix&, float*, int64_t, int64_t, int64_t,
                   int64_t, const Epilogue&) {
  return false;
}

#endif

}  // namespace dsvl::kernels::detail
