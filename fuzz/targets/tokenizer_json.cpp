// tokenizer.json loading (Tokenizer::from_json). The input is tokenizer.json, optionally
// followed by a NUL byte and tokenizer_config.json. A tokenizer that loads must then encode
// and decode a few fixed strings without failing.
#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"

namespace dsvl::fuzz {

void tokenizer_json(std::string_view input) {
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string_view config = nul == std::string_view::npos ? "" : input.substr(nul + 1);
  expect_clean([&] {
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_json(json, config, "fuzz.json");
    for (std::string_view text :
         {"Hello world! 123", " \xe4\xbd\xa0\xe5\xa5\xbd\n\n", "\xff\xfe a"}) {
      for (bool special : {false, true}) {
        const std::vector<int32_t> ids = tok.encode(text, special);
        (void)tok.decode(ids, !special);
      }
    }
    (void)tok.vocab_size();
    (void)tok.bos_id();
    (void)tok.eos_id();
  });
}

}  // namespace dsvl::fuzz
