// End to end: `dsvl bench` on tiny synthetic models (`dsvl synth --tiny`, its own small
// tokenizer: no ../shared needed) — every row in --json, the table, the probe, bad flags.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_fixture.h"
#include "common/shared.h"

namespace dsvl::test {
namespace {

// A tiny model of `like`, made once per test process.
const std::string& tiny(const std::string& like) {
  static std::map<std::string, std::string> made;
  auto it = made.find(like);
  if (it != made.end()) return it->second;
  const std::string dir = temp_dir("bench-" + like) + "/m";
  std::string log;
  const int rc =
      run_command(dsvl_binary() + " synth --like " + like + " --tiny --out " + dir, &log);
  EXPECT_EQ(rc, 0) << log;
  return made[like] = dir;
}

// The JSON lines of stdout, by test name; checks the contract keys and their order, and the
// precision every row reports.
std::map<std::string, nlohmann::ordered_json> rows(const std::string& out,
                                                   const std::string& precision) {
  std::map<std::string, nlohmann::ordered_json> by_test;
  std::istringstream in(out);
  const std::vector<std::string> contract = {"test", "n",       "tok_per_s", "stddev",
                                             "ms",   "threads", "precision"};
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::ordered_json::parse(line);
    std::vector<std::string> keys;
    for (auto k = j.begin(); k != j.end(); ++k) keys.push_back(k.key());
    EXPECT_GE(keys.size(), contract.size()) << line;
    if (keys.size() >= contract.size()) {
      EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 7), contract) << line;
    }
    EXPECT_GT(j["tok_per_s"].get<double>(), 0) << line;
    EXPECT_GT(j["ms"].get<double>(), 0) << line;
    EXPECT_GE(j["stddev"].get<double>(), 0) << line;
    EXPECT_GE(j["threads"].get<int>(), 1) << line;
    EXPECT_EQ(j["precision"], precision) << line;
    EXPECT_GT(j["peak_rss_mb"].get<double>(), 0) << line;
    by_test[j["test"].get<std::string>()] = j;
  }
  return by_test;
}

// `dsvl synth` writes F16 weights: --precision auto runs them in bf16.
TEST(CliBench, JsonHasEveryRowOnTiny1p3b) {
  const CliResult r = run_dsvl("bench -m " + tiny("1.3b-chat") + " --json --reps 1 -p 16 -n 4");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto by = rows(r.out, "bf16");
  for (const char* t : {"vision.siglip", "prefill", "decode", "decode0", "ttft"})
    EXPECT_TRUE(by.count(t)) << t << "\n" << r.out;
  EXPECT_FALSE(by.count("vision.sam"));
  EXPECT_EQ(by["prefill"]["n"], 16);
  EXPECT_EQ(by["decode"]["n"], 4);
  EXPECT_EQ(by["decode0"]["n"], 4);
  EXPECT_EQ(by["vision.siglip"]["n"], 1);
  EXPECT_GT(by["ttft"]["n"].get<int>(), 576);           // the image's 576 slots + the question
  EXPECT_NE(r.err.find("bench: "), std::string::npos);  // progress on stderr only
}

TEST(CliBench, HybridModelTimesBothTowers) {
  const CliResult r = run_dsvl("bench -m " + tiny("7b-chat") +
                               " --json --reps 2 -p 16 -n 4 --images 2 -t 1 --precision f32");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto by = rows(r.out, "f32");
  for (const char* t : {"vision.sam", "vision.siglip", "prefill", "decode", "decode0", "ttft"})
    EXPECT_TRUE(by.count(t)) << t << "\n" << r.out;
  EXPECT_EQ(by["vision.sam"]["n"], 2);
  EXPECT_EQ(by["vision.sam"]["reps"], 2);
  EXPECT_EQ(by["prefill"]["threads"], 1);
}

TEST(CliBench, NoMmapAndNoRepackLoadAndRun) {
  for (const char* flags : {" --no-mmap", " --no-repack", " --no-mmap --no-repack"}) {
    const CliResult r = run_dsvl("bench -m " + tiny("1.3b-chat") +
                                 " --json -r 1 -p 8 -n 2 --images 0 --precision bf16" + flags);
    ASSERT_EQ(r.rc, 0) << flags << "\n" << r.err;
    auto by = rows(r.out, "bf16");
    EXPECT_TRUE(by.count("prefill") && by.count("decode")) << flags << "\n" << r.out;
  }
}

TEST(CliBench, TablePrintsRowsRssAndLoad) {
  const CliResult r = run_dsvl("bench -m " + tiny("1.3b-chat") + " -r 1 -p 8 -n 2 --images 0");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("| test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| prefill"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| decode0"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("vision.siglip"), std::string::npos) << r.out;  // --images 0
  EXPECT_NE(r.out.find("peak RSS:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("load average:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("bench: "), std::string::npos) << r.out;
}

// The probe reads 1 GiB several times: too slow under the sanitizers (hence *Slow).
TEST(CliBench, ProbeAddsLimitsSlow) {
  const CliResult r = run_dsvl("bench -m " + tiny("1.3b-chat") +
                               " --json --probe --reps 1 -p 8 -n 2 --no-warmup -t 1 "
                               "--precision f32");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto by = rows(r.out, "f32");
  ASSERT_TRUE(by.count("decode") && by.count("prefill")) << r.out;
  EXPECT_EQ(by["decode"]["limit"], "bandwidth");
  EXPECT_EQ(by["prefill"]["limit"], "fp32 peak");
  EXPECT_EQ(by["vision.siglip"]["limit"], "fp32 peak");
  EXPECT_GT(by["decode"]["pct_limit"].get<double>(), 0);
  EXPECT_GT(by["decode"]["bytes"].get<double>(), 0);
  EXPECT_GT(by["prefill"]["flop"].get<double>(), 0);
  // Compute rows are held against the peak sampled beside their own runs, and say which.
  for (const char* test : {"prefill", "vision.siglip", "ttft"}) {
    const auto& row = by[test];
    ASSERT_TRUE(row.contains("peak_gflops")) << test << ": " << row.dump();
    const double peak = row["peak_gflops"].get<double>();
    EXPECT_GT(peak, 0) << test;
    const double limit = row["n"].get<double>() * peak * 1e9 / row["flop"].get<double>();
    EXPECT_NEAR(row["limit_tok_per_s"].get<double>(), limit, 1e-3 * limit + 1e-3) << test;
  }
  // Decode rows likewise, against the read bandwidth sampled beside their runs.
  for (const char* test : {"decode", "decode0"}) {
    const auto& row = by[test];
    EXPECT_FALSE(row.contains("peak_gflops")) << test;
    ASSERT_TRUE(row.contains("read_gbps")) << test << ": " << row.dump();
    const double gbps = row["read_gbps"].get<double>();
    EXPECT_GT(gbps, 0) << test;
    const double limit = row["n"].get<double>() * gbps * 1e9 / row["bytes"].get<double>();
    EXPECT_NEAR(row["limit_tok_per_s"].get<double>(), limit, 1e-2 * limit) << test;
  }
}

TEST(CliBench, Bf16RowsAreMeasuredAgainstTheBf16PeakSlow) {
  const CliResult r = run_dsvl("bench -m " + tiny("1.3b-chat") +
                               " --json --probe --reps 1 -p 8 -n 2 --images 0 --no-warmup "
                               "--precision bf16");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto by = rows(r.out, "bf16");
  EXPECT_EQ(by["prefill"]["limit"], "bf16 peak");
  EXPECT_EQ(by["ttft"]["limit"], "bf16 peak");
  EXPECT_EQ(by["decode"]["limit"], "bandwidth");
  EXPECT_GT(by["prefill"].value("peak_gflops", 0.0), 0) << by["prefill"].dump();
}

TEST(CliBench, BadFlagsFailWithAClearMessage) {
  const std::string m = " -m " + tiny("1.3b-chat");
  const std::map<std::string, std::string> cases = {
      {"bench" + m + " -p 16000 -n 1000", "do not fit the model's context"},
      {"bench" + m + " -p 0", "-p 0 is out of range"},
      {"bench" + m + " -n -3", "-n -3 is out of range"},
      {"bench" + m + " --reps 0", "--reps 0 is out of range"},
      {"bench" + m + " --precision fp8", "--precision must be auto, f32 or bf16"},
      {"bench" + m + " --frobnicate", "unknown flag --frobnicate"},
      {"bench" + m + " -p many", "-p"},
      {"bench -p 16", "missing required flag --model"},
      {"bench -m /nonexistent/model", "/nonexistent/model"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = run_dsvl(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace dsvl::test
