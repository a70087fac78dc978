// Every case of ../shared/conformance-train with the README's tolerances.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/shared.h"
#include "train/kit_case.h"
#include "train/kit_check.h"

namespace dsvl::test {
namespace {

class TrainKitCase : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainKitCase, MatchesGoldens) {
  const std::string kit = shared_path("conformance-train");
  if (kit.empty()) GTEST_SKIP() << "../shared/conformance-train not found";
  const std::string base = kit + "/cases/" + GetParam();
  const auto out = train::run_kit_case(base + ".json");
  const auto golden = io::WeightStore::open_file(base + ".safetensors");
  std::string report;
  const auto bad = compare_with_kit(golden, out, &report);
  for (const auto& b : bad) ADD_FAILURE() << GetParam() << ": " << b.tensor << ": " << b.what;
  if (!bad.empty() || std::getenv("DSVL_VERBOSE")) std::cerr << report;
}

std::vector<std::string> all_cases() {
  std::vector<std::string> r;
  for (const char* m : {"tiny-hybrid-a", "tiny-hybrid-b", "tiny-siglip-c"})
    for (const char* k : {"stage1", "stage2", "stage2_text", "stage3", "adamw", "mcppl"})
      r.push_back(std::string(m) + "_" + k);
  return r;
}

INSTANTIATE_TEST_SUITE_P(Kit, TrainKitCase, ::testing::ValuesIn(all_cases()), [](const auto& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
});

}  // namespace
}  // namespace dsvl::test
