#include "train/tensor_ops.h"

#include "core/threadpool.h"

namespace dsvl::train {

void mm(int64_t M, int64_t N, int64_t K, const DMat& A, const DMat& B, double* C, int64_t ldc,
        bool accumulate) {
  parallel_for(M, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = accumulate ? C[i * ldc + j] : 0.0;
        for (int64_t k = 0; k < K; ++k) s += A.p[i * A.rs + k * A.cs] * B.p[k * B.rs + j * B.cs];
        C[i * ldc + j] = s;
      }
  });
}

}  // namespace dsvl::train
