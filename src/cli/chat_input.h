// What `dsvl chat` makes of a typed line: commands (/image, new, exit, ...) and user
// messages whose images come from /image (attached before) or <image:PATH> (in the text).
#pragma once

#include <string>
#include <vector>

#include "dsvl/dsvl.h"

namespace dsvl::cli {

enum class ChatCommand { kMessage, kEmpty, kExit, kClear, kImage, kHelp, kUnknown };

struct ChatLine {
  ChatCommand command = ChatCommand::kMessage;
  std::string arg;  // the path of /image, the text of a message, the word of kUnknown
};

// Trims the line and recognises the commands: exit, quit, /exit, /quit; new, /new, /clear;
// /image PATH; /help. A line starting with '/' that is none of them is kUnknown (so a typo
// is not sent to the model).
ChatLine parse_chat_line(const std::string& line);

// The user message for `text`. Images are placed in reading order: each <image:PATH> in the
// text is an image at that spot; each <image> or <image_placeholder> written by the user takes
// the next of `attached` (the /image files); with no such marker the attached images go before
// the text, as the official examples do. RequestError on a count mismatch or an unreadable
// file, naming it.
Message build_user_message(const std::string& text, const std::vector<std::string>& attached);

}  // namespace dsvl::cli
