// Comparison of `dsvl train-step` style outputs with the goldens of the training kit, with
// the README's tolerances. Shared by the conformance tests.
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"

namespace dsvl::test {

struct KitMismatch {
  std::string tensor, what;
};

// Compares every tensor of `golden` (the case's safetensors) with `out` (by name) using the
// kit tolerances; returns the failures (empty = pass). `report` gets one line per tensor.
std::vector<KitMismatch> compare_with_kit(const io::WeightStore& golden,
                                          const std::vector<io::OwnedTensor>& out,
                                          std::string* report);

}  // namespace dsvl::test
