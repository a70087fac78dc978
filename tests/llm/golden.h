// Helpers shared by the LLM tests: the conformance kit's models and cases, and tensor
// comparison that reports max abs/rel error and the first bad index.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/config.h"
#include "io/safetensors.h"
#include "llm/llm.h"

namespace dsvl::test {

struct KitModel {
  io::ModelConfig config;
  std::unique_ptr<llm::Llm> llm;
};

// One case of ../shared/conformance/cases, with its tensors opened.
struct KitCase {
  std::string name;
  std::string model;  // tiny-hybrid-a, ...
  std::shared_ptr<io::WeightStore> tensors;
  std::vector<int32_t> input_ids;
  int64_t n_images = 0;
  int32_t image_token_id = 315;
  int32_t eos_id = 301;
};

// Case names in the kit (empty when the kit is missing).
std::vector<std::string> kit_case_names();
KitCase load_kit_case(const std::string& name);
// Models are loaded once per process and shared.
const KitModel& kit_model(const std::string& name);

// Golden float tensor (any float dtype) as float32.
std::vector<float> golden_floats(const io::WeightStore& s, const std::string& key);
std::vector<int64_t> golden_ints(const io::WeightStore& s, const std::string& key);

// The case's embeddings from the golden aligner output (our own merge).
Tensor case_embeds(const KitCase& c, const llm::Llm& m);

// Checks max|got − want| ≤ rel_tol · max|want|; on failure reports max abs/rel error and the
// first index beyond the tolerance.
::testing::AssertionResult close_rel_to_max(const std::string& name, const float* got,
                                            const float* want, int64_t n, double rel_tol);

// EXPECT-style wrapper of close_rel_to_max; with DSVL_VERBOSE set it also prints passing
// reports (the measured error margins).
void expect_close(const std::string& name, const float* got, const float* want, int64_t n,
                  double rel_tol);

}  // namespace dsvl::test
