// The seed corpora of the fuzz targets (fuzz/targets/), built in code from the project's own
// writers so that nothing binary is hand-made: safetensors files from io::write_safetensors,
// configs and the tokenizer from io/synth, request bodies around the image seeds.
#pragma once

#include <map>
#include <string>

namespace dsvl::test {

// Seed folder name (tests/fuzz-seeds/<folder>) -> file name -> bytes. The image seeds are
// written by tests/image/fuzz_seeds_test.cpp and are not in this map.
std::map<std::string, std::map<std::string, std::string>> make_fuzz_seeds();

}  // namespace dsvl::test
