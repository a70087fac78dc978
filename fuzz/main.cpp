// libFuzzer entry point of one target: CMake builds this file once per harness in targets/,
// naming it with DSVL_FUZZ_TARGET (executable fuzz_<name>).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz/targets/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dsvl::fuzz::Target* target = [] {
    const dsvl::fuzz::Target* t = dsvl::fuzz::find_target(DSVL_FUZZ_TARGET);
    if (!t) {
      std::fprintf(stderr, "no fuzz target named %s\n", DSVL_FUZZ_TARGET);
      std::abort();
    }
    return t;
  }();
  target->run({reinterpret_cast<const char*>(data), size});
  return 0;
}
