#include "aligner/mlp.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cpu/gelu.h"
#include "kernels/cpu/matmul.h"

namespace dsvl::aligner {

LinearWeights bind_linear(const vision::Binder& b, const std::string& name, int64_t out,
                          int64_t in) {
  return {b.matrix(name + ".weight", {out, in}), b.view(name + ".bias", {out})};
}

void gelu_linear_stack(const std::vector<LinearWeights>& layers, float* x, int64_t M, int64_t D,
                       float* tmp, kernels::Precision p) {
  for (const LinearWeights& l : layers) {
    kernels::gelu(x, M * D);
    kernels::linear(x, M, l.weight, &l.bias, tmp, p);
    std::copy(tmp, tmp + M * D, x);
  }
}

void check_features(const Tensor& t, const Shape& shape, const std::string& what) {
  if (t.shape != shape)
    throw ShapeError("aligner: " + what + " has shape " + shape_str(t.shape) + ", expected " +
                     shape_str(shape));
}

}  // namespace dsvl::aligner
