// The deepseek template (spec §6.2) and image-token expansion (§6.3). The expected ids are
// written out by hand: BOS, the text pieces between special tokens (their ids from the Rust
// `tokenizers` reference with the deepseek_vl tokenizer), 576 image ids per placeholder.
#include "runtime/chat_template.h"

#include <gtest/gtest.h>

#include "common/shared.h"
#include "core/error.h"

namespace {

using dsvl::runtime::ChatMessage;

const std::string kSystem(dsvl::runtime::kDeepSeekVlSystemPrompt);

std::vector<ChatMessage> two_images_two_turns() {
  return {{"User", "<image_placeholder> is Figure 1.\n<image_placeholder> is Figure 2.\nWhich "
                   "image is brighter?"},
          {"Assistant", "The first."},
          {"User", "Why?"}};
}

TEST(ChatTemplate, RendersSpecExamples) {
  EXPECT_EQ(dsvl::runtime::render_deepseek_prompt(
                {{"user", "<image_placeholder>Describe each stage of this image."}}),
            kSystem + "\n\nUser: <image_placeholder>Describe each stage of this image.\n\nAssistant:");
  EXPECT_EQ(dsvl::runtime::render_deepseek_prompt(two_images_two_turns()),
            kSystem +
                "\n\nUser: <image_placeholder> is Figure 1.\n<image_placeholder> is Figure 2.\n"
                "Which image is brighter?\n\nAssistant: The first.<｜end▁of▁sentence｜>User: "
                "Why?\n\nAssistant:");
}

TEST(ChatTemplate, StripsContentAndHandlesEmptySystemAndSystemMessage) {
  EXPECT_EQ(dsvl::runtime::render_deepseek_prompt({{"user", "  hi \n"}, {"assistant", ""}}, ""),
            "User: hi\n\nAssistant:");
  EXPECT_EQ(dsvl::runtime::render_deepseek_prompt({{"system", "Be brief."}, {"user", "hi"}}),
            "Be brief.\n\nUser: hi\n\nAssistant:");
}

TEST(ChatTemplate, RejectsRolesOutOfOrder) {
  EXPECT_THROW(dsvl::runtime::render_deepseek_prompt({{"assistant", "x"}}), dsvl::RequestError);
  EXPECT_THROW(dsvl::runtime::render_deepseek_prompt({{"user", "a"}, {"user", "b"}}),
               dsvl::RequestError);
}

TEST(ChatTemplate, ExpandChecksImageCount) {
  std::vector<int32_t> ids = {1, 7, 2, 7, 3};
  auto out = dsvl::runtime::expand_image_tokens(ids, 7, 2, 3);
  EXPECT_EQ(out, (std::vector<int32_t>{1, 7, 7, 7, 2, 7, 7, 7, 3}));
  try {
    dsvl::runtime::expand_image_tokens(ids, 7, 1, 3);
    FAIL() << "expected RequestError";
  } catch (const dsvl::RequestError& e) {
    EXPECT_NE(std::string(e.what()).find("2 <image_placeholder>"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1 image"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, TwoImagesTwoTurnsMatchOfficialProcessorIds) {
  std::string dir = dsvl::test::shared_path("tokenizers/deepseek_vl");
  if (dir.empty()) GTEST_SKIP() << "../shared/tokenizers/deepseek_vl not found";
  auto tok = dsvl::tokenizer::Tokenizer::load(dir);
  ASSERT_EQ(tok.token_id("<image_placeholder>"), 100015);

  // "{SYSTEM}\n\nUser: "
  const std::vector<int32_t> system_user = {
      2054, 418,  245,  9394, 4706, 285,  10046, 20308, 13,  1257, 418,  2249, 276, 2579,
      254,  7959, 3093, 344,  254,  2677, 4614,  11,    285, 4750, 254,  2677, 366, 245,
      6265, 280,  9224, 1244, 3892, 4706, 13,    185,   185, 5726, 25,   207};
  const std::vector<int32_t> figure1 = {317, 7597, 207, 16, 13, 185};  // " is Figure 1.\n"
  // " is Figure 2.\nWhich image is brighter?\n\nAssistant: The first."
  const std::vector<int32_t> figure2_answer = {317, 7597, 207, 17,    13, 185, 15526, 3324, 317,
                                               34993, 30, 185, 185, 77398, 25, 429, 1022,  13};
  const std::vector<int32_t> why = {5726, 25, 5903, 30, 185, 185, 77398, 25};  // "User: Why?\n\nAssistant:"

  std::vector<int32_t> want = {100000};  // BOS from add_bos_token
  auto add = [&](const std::vector<int32_t>& v) { want.insert(want.end(), v.begin(), v.end()); };
  add(system_user);
  want.insert(want.end(), 576, 100015);
  add(figure1);
  want.insert(want.end(), 576, 100015);
  add(figure2_answer);
  want.push_back(100001);  // the assistant turn's separator, <｜end▁of▁sentence｜>
  add(why);

  EXPECT_EQ(dsvl::runtime::encode_deepseek_chat(tok, two_images_two_turns(), 2), want);
  EXPECT_THROW(dsvl::runtime::encode_deepseek_chat(tok, two_images_two_turns(), 1),
               dsvl::RequestError);
}

}  // namespace
