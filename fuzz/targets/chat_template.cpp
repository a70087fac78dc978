// The prompt builder: image placeholders (runtime::place_images), the "deepseek" chat template
// (render_deepseek_prompt), its encoding with the image-token expansion (encode_deepseek_chat,
// expand_image_tokens), on the small tokenizer.
//
// Input: records separated by 0x1E. The first is the system prompt; in each following one the
// first byte picks the role (low 2 bits: user, assistant, system, "USER") and the number of
// images of the message (next 2 bits), the rest is the content.
#include "runtime/chat_template.h"

#include <algorithm>
#include <stdexcept>

#include "fuzz/targets/common.h"
#include "fuzz/targets/targets.h"
#include "runtime/request_prep.h"

namespace dsvl::fuzz {

void chat_template(std::string_view input) {
  const std::vector<std::string_view> records = split(input, '\x1e');
  const std::string system(records[0]);
  expect_clean([&] {
    static const char* const kRoles[] = {"user", "assistant", "system", "USER"};
    std::vector<runtime::ChatMessage> msgs;
    size_t n_images = 0;
    for (size_t i = 1; i < records.size(); ++i) {
      const std::string_view r = records[i];
      const uint8_t head = r.empty() ? 0 : uint8_t(r[0]);
      const size_t images = (head >> 2) & 3;
      const std::string content(r.empty() ? r : r.substr(1));
      msgs.push_back(
          {kRoles[head & 3],
           runtime::place_images(content, images, std::string(runtime::kImagePlaceholder))});
      n_images += images;
    }
    (void)runtime::render_deepseek_prompt(msgs, system);
    const tokenizer::Tokenizer& tok = small_tokenizer();
    const std::vector<int32_t> ids = runtime::encode_deepseek_chat(tok, msgs, n_images, system);
    const int32_t image_id = *tok.token_id(runtime::kImagePlaceholder);
    const size_t expanded = size_t(std::count(ids.begin(), ids.end(), image_id));
    if (expanded != n_images * runtime::kImageTokensPerImage)
      throw std::logic_error("prompt holds " + std::to_string(expanded) + " image tokens for " +
                             std::to_string(n_images) + " images");
    // The expansion alone, with a count that may not match.
    const std::vector<int32_t> raw = tok.encode(system, true);
    (void)runtime::expand_image_tokens(raw, image_id, input.size() % 3, 3);
  });
}

}  // namespace dsvl::fuzz
