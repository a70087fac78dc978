// Row invariance of kernels::linear: a row's result is bit-identical whether it is computed
// alone (decode, M = 1), in a small batch (the streaming kernels, M ≤ 8) or inside a large
// GEMM (the blocked kernels), for both precisions and every bf16 kernel. The LLM relies on it:
// chunked prefill, decode and batched decode give identical logits.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/cpu/gemm_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/matmul_test_util.h"

namespace dsvl::kernels {
namespace {

using detail::Bf16Kernel;

struct Mode {
  Precision precision;
  Bf16Kernel kernel;
  const char* name;
};

class RowInvariance : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam().kernel == Bf16Kernel::kAmx && !detail::amx_usable())
      GTEST_SKIP() << "AMX not available on this CPU/kernel";
    detail::set_bf16_kernel(GetParam().kernel);
  }
  void TearDown() override { detail::set_bf16_kernel(Bf16Kernel::kAuto); }
};

TEST_P(RowInvariance, SubsetsOfRowsGiveIdenticalBits) {
  const Precision p = GetParam().precision;
  std::mt19937 rng(21);
  const int64_t M = 40;
  // (first row, count): alone, small batches (streaming kernels), a blocked GEMM of 9 rows.
  const std::pair<int64_t, int64_t> subsets[] = {{0, 1},  {5, 1},  {39, 1}, {10, 3}, {20, 8},
                                                 {30, 9}, {1, 16}, {2, 15}, {23, 17}};
  for (const test::Case c :
       {test::Case{M, 1000, 70}, test::Case{M, 37, 33}, test::Case{M, 1024, 80}}) {
    const std::vector<float> x = test::randn(size_t(M * c.K), rng);
    const std::vector<float> wf = test::randn(size_t(c.N * c.K), rng);
    const std::vector<float> bf = test::randn(size_t(c.N), rng);
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      const test::Stored w = test::store(wf, t, {c.N, c.K}), b = test::store(bf, t, {c.N});
      // The weight as stored and, rounded to bf16, repacked into panels as the LLM's are
      // (its small-M kernels differ: AMX tiles of M rows, the panel streaming kernels).
      const PackedWeight packed = pack_bf16(w.view);
      for (const TensorView& wv : {w.view, packed.view()}) {
        std::vector<float> full(size_t(M * c.N));
        linear(x.data(), M, wv, &b.view, full.data(), p);
        for (const auto& [r0, n] : subsets) {
          std::vector<float> part(size_t(n * c.N));
          linear(x.data() + r0 * c.K, n, wv, &b.view, part.data(), p);
          EXPECT_EQ(std::memcmp(part.data(), full.data() + r0 * c.N, part.size() * 4), 0)
              << test::case_str(c, t) << (wv.packed ? " repacked" : "") << ": rows " << r0 << ".."
              << r0 + n - 1;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, RowInvariance,
                         ::testing::Values(Mode{Precision::kF32, Bf16Kernel::kAuto, "F32"},
                                           Mode{Precision::kBF16, Bf16Kernel::kAmx, "Bf16Amx"},
                                           Mode{Precision::kBF16, Bf16Kernel::kDot, "Bf16Dot"},
                                           Mode{Precision::kBF16, Bf16Kernel::kEmulated,
                                                "Bf16Emulated"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dsvl::kernels
