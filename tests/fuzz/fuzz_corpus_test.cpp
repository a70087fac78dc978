// The fuzz targets' corpora as tests: every committed seed and every regression input (inputs
// that once crashed a parser, tests/fuzz-seeds/regressions/<target>/) runs through its harness
// and must be accepted or refused cleanly. In the sanitizer build this also checks them for
// memory errors and undefined behaviour.
//
//   DSVL_WRITE_FUZZ_SEEDS=1 ./dsvl_tests --gtest_filter='FuzzCorpus.*'
// rewrites the generated seeds (fuzz/seeds.cpp says how each is made).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fuzz/seeds.h"
#include "fuzz/targets/targets.h"

namespace dsvl::test {
namespace {

namespace fs = std::filesystem;

const fs::path kSeedRoot = fs::path(DSVL_SOURCE_DIR) / "tests/fuzz-seeds";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs every file of `dir` through `target`; returns how many ran.
int run_folder(const fuzz::Target& target, const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::set<fs::path> files;  // sorted: a stable order in the log
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.insert(e.path());
  for (const fs::path& f : files) {
    SCOPED_TRACE(target.name + std::string(" <- ") + f.string());
    const std::string bytes = read_all(f);
    EXPECT_NO_THROW(target.run(bytes));
    ++n;
  }
  return n;
}

TEST(FuzzCorpus, GeneratedSeedsAreCommitted) {
  const auto seeds = make_fuzz_seeds();
  const bool write = std::getenv("DSVL_WRITE_FUZZ_SEEDS") != nullptr;
  for (const auto& [folder, files] : seeds) {
    for (const auto& [name, bytes] : files) {
      const fs::path p = kSeedRoot / folder / name;
      if (write) {
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << bytes;
      }
      EXPECT_TRUE(fs::exists(p)) << p << " missing; regenerate with DSVL_WRITE_FUZZ_SEEDS=1";
    }
  }
}

TEST(FuzzCorpus, EveryTargetHasSeedsThatRunClean) {
  for (const fuzz::Target& t : fuzz::targets()) {
    const int n = run_folder(t, kSeedRoot / t.seeds);
    EXPECT_GT(n, 0) << "no seeds for fuzz target " << t.name << " in " << (kSeedRoot / t.seeds);
  }
}

TEST(FuzzCorpus, RegressionInputsRunClean) {
  const fs::path root = kSeedRoot / "regressions";
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    const fuzz::Target* t = fuzz::find_target(e.path().filename().string());
    ASSERT_NE(t, nullptr) << e.path() << " does not name a fuzz target";
    run_folder(*t, e.path());
  }
}

}  // namespace
}  // namespace dsvl::test
