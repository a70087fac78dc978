#include "kernels/cpu/train_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/threadpool.h"

namespace dsvl::kernels {
namespace {

struct Dims {
  int64_t M, N, K;
};

// Every transpose combination, F32/F16/BF16 operands, odd sizes, unaligned pointers,
// accumulate on and off, against the double-accumulating reference.
TEST(TrainGemm, MatchesReferenceAllLayouts) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (Dims d : {Dims{1, 1, 1}, Dims{7, 63, 5}, Dims{13, 33, 300}, Dims{97, 65, 257},
                 Dims{12, 32, 16}, Dims{200, 3, 40}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (DType bt : {DType::kF32, DType::kF16, DType::kBF16}) {
          std::vector<float> a(size_t(d.M * d.K) + 1), bf(size_t(d.K * d.N) + 1);
          for (auto& v : a) v = nd(rng);
          for (auto& v : bf) v = nd(rng);
          std::vector<uint16_t> bh(bf.size());
          for (size_t i = 0; i < bf.size(); ++i)
            bh[i] = bt == DType::kF16 ? f32_to_f16(bf[i]) : f32_to_bf16(bf[i]);
          const float* ap = a.data() + 1;  // unaligned
          MatRef A = ta ? mat_t(ap, d.M) : mat(ap, d.K);
          MatRef B{bt == DType::kF32 ? (const void*)(bf.data() + 1) : (const void*)(bh.data() + 1),
                   bt, tb ? 1 : d.N, tb ? d.K : 1};
          for (bool acc : {false, true}) {
            const int64_t ldc = d.N + 3;
            std::vector<float> c(size_t(d.M * ldc), 0.5f), r = c;
            gemm(d.M, d.N, d.K, A, B, c.data(), ldc, acc);
            gemm_ref(d.M, d.N, d.K, A, B, r.data(), ldc, acc);
            for (int64_t i = 0; i < d.M; ++i)
              for (int64_t j = 0; j < ldc; ++j)
                ASSERT_NEAR(c[size_t(i * ldc + j)], r[size_t(i * ldc + j)],
                            2e-5 * std::sqrt(double(d.K)) * 4)
                    << "M=" << d.M << " N=" << d.N << " K=" << d.K << " ta=" << ta << " tb=" << tb
                    << " acc=" << acc << " at " << i << "," << j;
          }
        }
  }
}

// Sizes just past the cache blocks (kMc = 224 rows, kNc = 768 columns, kKc = 384) — several
// row blocks with several K blocks, several row blocks with several column blocks, and a
// small M (one A block: B packed per micro-panel) across column and K blocks — in every
// transpose combination. (Kept small: the reference is a scalar double loop.)
TEST(TrainGemm, MatchesReferenceAcrossBlocks) {
  const int threads0 = num_threads();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (Dims d : {Dims{229, 33, 389}, Dims{229, 771, 17}, Dims{15, 771, 389}})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        std::vector<float> a(size_t(d.M * d.K)), b(size_t(d.K * d.N));
        for (auto& v : a) v = nd(rng);
        for (auto& v : b) v = nd(rng);
        const MatRef A = ta ? mat_t(a.data(), d.M) : mat(a.data(), d.K);
        const MatRef B = tb ? mat_t(b.data(), d.K) : mat(b.data(), d.N);
        std::vector<float> r(size_t(d.M * d.N), 0.25f);
        gemm_ref(d.M, d.N, d.K, A, B, r.data(), d.N, true);
        // One thread walks every block of the shape; the pool splits it (fewer blocks each).
        for (int threads : {1, threads0}) {
          set_num_threads(threads);
          std::vector<float> c(size_t(d.M * d.N), 0.25f);
          gemm(d.M, d.N, d.K, A, B, c.data(), d.N, true);
          for (size_t i = 0; i < c.size(); ++i)
            ASSERT_NEAR(c[i], r[i], 2e-5 * std::sqrt(double(d.K)) * 4)
                << "M=" << d.M << " N=" << d.N << " ta=" << ta << " tb=" << tb << " threads "
                << threads << " at " << i;
        }
        set_num_threads(threads0);
      }
}

TEST(TrainGemm, SingleThreadEqualsMultiThread) {
  std::mt19937 rng(6);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t M = 77, N = 131, K = 290;
  std::vector<float> a(size_t(M * K)), b(size_t(K * N));
  for (auto& v : a) v = nd(rng);
  for (auto& v : b) v = nd(rng);
  std::vector<float> c1(size_t(M * N)), c2(c1.size());
  gemm(M, N, K, mat(a.data(), K), mat(b.data(), N), c1.data(), N, false);
  const int n = num_threads();
  set_num_threads(1);
  gemm(M, N, K, mat(a.data(), K), mat(b.data(), N), c2.data(), N, false);
  set_num_threads(n);
  EXPECT_EQ(c1, c2);  // the split never changes a C element's summation order
}

}  // namespace
}  // namespace dsvl::kernels
