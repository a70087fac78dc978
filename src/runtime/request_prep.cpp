#include "runtime/request_prep.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "runtime/chat_template.h"
#include "runtime/generate.h"

namespace dsvl::runtime {
namespace {

size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size()))
    ++n;
  return n;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

std::string read_bytes(const ImageInput& im) {
  if (!im.bytes.empty() || im.path.empty()) {
    if (im.bytes.empty()) throw RequestError("image " + im.name + ": no data");
    return im.bytes;
  }
  std::ifstream in(im.path, std::ios::binary);
  if (!in) throw RequestError("cannot read image " + im.path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h ^ n;
}

std::string place_images(const std::string& content, size_t n_images, const std::string& tag) {
  std::string s = replace_all(content, "<image>", tag);
  const size_t written = count_of(s, tag);
  if (written == 0 && n_images > 0) {
    std::string front;
    for (size_t i = 0; i < n_images; ++i) front += tag;
    return front + s;
  }
  if (written != n_images)
    throw RequestError("the text has " + std::to_string(written) + " image placeholder(s) but " +
                       std::to_string(n_images) + " image(s) were given");
  return s;
}

PreparedRequest prepare_request(const Pipeline& pipe, const Request& req, const LoadParams& limits,
                                int64_t n_ctx, bool count_only) {
  const auto& tok = pipe.tokenizer();
  const std::string& tag = pipe.config().chat.image_tag;
  PreparedRequest out;
  std::vector<const ImageInput*> inputs;
  if (req.raw) {
    for (auto& im : req.raw_images) inputs.push_back(&im);
    const std::string text = place_images(*req.raw, inputs.size(), tag);
    out.ids = tok.encode(text, /*add_special_tokens=*/true);
  } else {
    if (req.messages.empty()) throw RequestError("messages: at least one message is required");
    std::vector<ChatMessage> msgs;
    std::string system =
        req.add_system_prompt ? std::string(kDeepSeekVlSystemPrompt) : std::string();
    for (size_t i = 0; i < req.messages.size(); ++i) {
      const Message& m = req.messages[i];
      if (m.role == "system") {
        if (i != 0) throw RequestError("messages: a system message must come first");
        if (!m.images.empty()) throw RequestError("messages: a system message cannot hold images");
        system = m.content;
        continue;
      }
      if (m.role != "user" && m.role != "assistant")
        throw RequestError("messages[" + std::to_string(i) + "]: unknown role \"" + m.role + "\"");
      if (m.role == "assistant" && !m.images.empty())
        throw RequestError("messages[" + std::to_string(i) + "]: images belong in user messages");
      for (auto& im : m.images) inputs.push_back(&im);
      msgs.push_back({m.role, place_images(m.content, m.images.size(), tag)});
    }
    out.ids = encode_deepseek_chat(tok, msgs, inputs.size(), system);
    out.stop = {"User:"};  // the template's stop string (official cli_chat / serve)
  }
  if (int64_t(inputs.size()) > limits.max_images)
    throw LimitError("the request has " + std::to_string(inputs.size()) + " images, at most " +
                     std::to_string(limits.max_images) + " are allowed");
  out.n_images = int64_t(inputs.size());
  if (req.raw) {
    // encode() kept each placeholder as one id: expand them like the chat path does.
    out.ids = expand_image_tokens(out.ids, pipe.image_token_id(), inputs.size(),
                                  size_t(pipe.image_tokens()));
  }
  for (auto& s : req.sampling.stop)
    if (!s.empty()) out.stop.push_back(s);

  if (count_only) return out;
  check_context(int64_t(out.ids.size()), out.n_images, pipe.image_tokens(), req.sampling.max_tokens,
                n_ctx, pipe.config().llm.max_position_embeddings);

  image::DecodeLimits dl;
  dl.max_pixels = limits.max_image_pixels;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ImageInput& im = *inputs[i];
    const std::string name = !im.name.empty()   ? im.name
                             : !im.path.empty() ? im.path
                                                : "image " + std::to_string(i + 1);
    const std::string bytes = read_bytes(im);
    out.image_hashes.push_back(fnv1a64(bytes.data(), bytes.size()));
    try {
      out.images.push_back(image::decode_memory(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                bytes.size(), name, dl));
    } catch (const LimitError&) {
      throw;
    } catch (const Error& e) {
      throw RequestError(e.what());  // a bad image is the caller's fault
    }
  }
  return out;
}

}  // namespace dsvl::runtime
