// Fuzz harnesses: each feeds one untrusted input to one parser of the project. A harness
// returns normally when the parser accepted the input or refused it the way the project
// promises (dsvl::Error of a user-facing kind, or the server's ApiError); anything else — another
// exception, a crash, a sanitizer report, a hang — is a bug the fuzzer reports.
//
// The same functions run under libFuzzer (fuzz/main.cpp, one executable per target) and in the
// test suite (tests/fuzz/), which feeds them the committed seeds and the regression inputs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsvl::fuzz {

using Harness = void (*)(std::string_view input);

struct Target {
  const char* name;  // also the executable (fuzz_<name>) and the seed folder
  Harness run;
  const char* seeds;  // folder under tests/fuzz-seeds/ with its seed corpus
};

// Every target, in the order fuzz/run.sh runs them.
const std::vector<Target>& targets();
// nullptr if there is none of that name.
const Target* find_target(std::string_view name);

// ---- the harnesses (fuzz/targets/<name>.cpp) ----
void safetensors(std::string_view input);       // io::parse_safetensors + every tensor view
void config(std::string_view input);            // io::parse_model_config + the key table
void tokenizer_json(std::string_view input);    // Tokenizer::from_json (+ a few encodes)
void tokenizer_encode(std::string_view input);  // encode/decode arbitrary bytes
void image_png(std::string_view input);         // each decoder on its own
void image_jpeg(std::string_view input);
void image_webp(std::string_view input);
void image_gif(std::string_view input);
void image_bmp(std::string_view input);
void chat_template(std::string_view input);   // template, placeholders, image-token expansion
void server_request(std::string_view input);  // HTTP body -> Request -> prompt ids + images

}  // namespace dsvl::fuzz
