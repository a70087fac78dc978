// Pieces shared by the harnesses: the error policy, and the small tokenizer / tiny model some
// of them need (built once per process, on first use).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/error.h"
#include "image/decode_internal.h"
#include "image/image.h"
#include "runtime/pipeline.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace dsvl::fuzz {

// Runs `body`, swallowing the refusals a parser may answer untrusted input with: dsvl::Error
// of every kind except kInternal, and server::ApiError with a 4xx status. Anything else
// propagates; an internal error becomes std::logic_error. (Under libFuzzer an escaping
// exception aborts the process: a reported bug. In the tests it fails the test.)
template <typename F>
void expect_clean(F&& body) {
  try {
    body();
  } catch (const server::ApiError& e) {
    if (e.status >= 500)
      throw std::logic_error(std::string("server error on bad input: ") + e.what());
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInternal)
      throw std::logic_error(std::string("internal error on bad input: ") + e.what());
  }
}

// The byte-level BPE tokenizer `dsvl synth` writes (io::build_small_tokenizer).
const tokenizer::Tokenizer& small_tokenizer();
// The real DeepSeek-VL tokenizer when $DSVL_FUZZ_TOKENIZER names its folder, else nullptr.
const tokenizer::Tokenizer* real_tokenizer();
// A `dsvl synth --like 1.3b-chat --tiny` model in a temporary folder, loaded once.
const runtime::Pipeline& tiny_pipeline();

// Checks a decoded image is consistent (std::logic_error otherwise) and, when it is small,
// runs it through the processor (resize, pad to a square) at a small size.
void check_decoded(const image::RgbImage& img);

// Runs one image decoder of image/decode_internal.h (decode_png, decode_bmp, ...) on `input`
// under expect_clean, pixels capped at 1 MP so one input stays fast (the cap is checked from
// the header like every limit), then check_decoded. `name` names the input in messages.
using DecodeFn = image::RgbImage (*)(const image::detail::Source&);
void fuzz_decoder(std::string_view input, const std::string& name, DecodeFn decode);

// `input` cut at every occurrence of `sep` (an input without it is one piece).
std::vector<std::string_view> split(std::string_view input, char sep);

}  // namespace dsvl::fuzz
