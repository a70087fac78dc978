// Pieces shared by both aligner variants.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/matmul.h"
#include "vision/binder.h"

namespace dsvl::aligner {

struct LinearWeights {
  TensorView weight, bias;  // [out, in], [out]
};

// `name`.weight [out, in] (a GEMM matrix: through the binder's arena) and `name`.bias [out]
// as stored, under the binder's prefix.
LinearWeights bind_linear(const vision::Binder& b, const std::string& name, int64_t out,
                          int64_t in);

// x [M, D] in place through [GELU, Linear(D → D)] for each layer, linears at precision p;
// `tmp` holds M·D floats.
void gelu_linear_stack(const std::vector<LinearWeights>& layers, float* x, int64_t M, int64_t D,
                       float* tmp, kernels::Precision p);

// Throws ShapeError naming `what` unless t has exactly `shape`.
void check_features(const Tensor& t, const Shape& shape, const std::string& what);

}  // namespace dsvl::aligner
