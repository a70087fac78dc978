// Writes an edited copy of a (single-file) model folder for weight-binding tests: the JSON
// configs are copied, and every tensor of model.safetensors passes through `edit`, which may
// change it in place or return false to drop it.
#pragma once

#include <functional>
#include <string>

#include "io/safetensors.h"

namespace dsvl::test {

std::string copy_model(const std::string& src_dir, const std::string& tag,
                       const std::function<bool(io::OwnedTensor&)>& edit);

// Adds `delta` to every element of a float tensor (F32/F16/BF16), rounding back to its dtype.
void perturb(io::OwnedTensor& t, float delta);

}  // namespace dsvl::test
