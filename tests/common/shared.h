// Access to ../shared (conformance kits, tokenizer goldens) from tests. When the folder is
// missing, tests skip with a one-line reason, except under CI=true, where missing data fails.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace dsvl::test {

// Absolute path of ../shared (or $DSVL_SHARED), or "" if it does not exist. Under CI=true a
// missing folder records a test failure.
std::string shared_dir();
// shared_dir() + "/" + rel, or "" if missing (same CI rule).
std::string shared_path(const std::string& rel);
// The dsvl executable built beside the tests.
std::string dsvl_binary();
// A fresh empty temporary directory, removed at process exit.
std::string temp_dir(const std::string& tag);
// Runs a shell command, returns its exit code; stdout+stderr captured into *out if given.
int run_command(const std::string& cmd, std::string* out = nullptr);

}  // namespace dsvl::test

// Usage inside a TEST body:  auto kit = dsvl::test::shared_path("conformance");
//                            if (kit.empty()) GTEST_SKIP() << "../shared/conformance not found";
