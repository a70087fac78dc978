#include "fuzz/seeds.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/shared.h"
#include "io/safetensors.h"
#include "io/synth.h"
#include "server/image_source.h"
#include "tokenizer/synthetic.h"

namespace dsvl::test {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> safetensors_seeds() {
  const std::string dir = temp_dir("fuzz-seeds");
  std::map<std::string, std::string> out;
  auto add = [&](const std::string& name, const std::vector<io::OwnedTensor>& ts,
                 const std::map<std::string, std::string>& meta) {
    const std::string path = dir + "/" + name;
    io::write_safetensors(path, ts, meta);
    out[name] = read_all(path);
  };
  const float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
  add("f32.safetensors", {io::make_f32("w", {2, 3}, f), io::make_f32("b", {3}, f)},
      {{"format", "pt"}});
  add("mixed.safetensors",
      {io::make_i64("ids", {1, 4}, {100000, 1, 2, 100015}),
       io::make_bool("mask", {4}, {1, 0, 1, 1}), io::make_f32("empty", {0, 4}, f),
       io::make_f32("scalar", {}, f)},
      {});
  // Real key names and layout, tiny shapes, in bf16 and f16 as the released checkpoints.
  io::OwnedTensor bf16{"language_model.model.embed_tokens.weight", DType::kBF16, {4, 2}, {}};
  bf16.bytes.assign(16, 0x3f);
  io::OwnedTensor f16{"vision_model.vision_tower.pos_embed", DType::kF16, {1, 2, 2}, {}};
  f16.bytes.assign(8, 0x3c);
  add("real_keys.safetensors", {bf16, f16}, {{"format", "pt"}});
  return out;
}

std::map<std::string, std::string> config_seeds() {
  std::map<std::string, std::string> out;
  for (const char* like : {"1.3b-chat", "7b-chat"}) {
    const std::string l = like;
    out["released_" + l + ".json"] = io::released_config_file(l, "config.json");
    out["tiny_" + l + ".json"] = io::synth_config_json(l, true, 592, DType::kF32);
  }
  return out;
}

std::map<std::string, std::string> tokenizer_json_seeds() {
  const io::TokenizerFiles small = io::build_small_tokenizer(24);
  std::map<std::string, std::string> out;
  out["small_with_config.json"] = small.tokenizer_json + '\0' + small.tokenizer_config_json;
  out["small.json"] = small.tokenizer_json;
  out["synthetic.json"] = synthetic_tokenizer().dump();
  return out;
}

// Lone continuation bytes, truncated sequences, a surrogate, an overlong '/', bytes never valid
// in UTF-8, a 5-byte form, a NUL.
constexpr char kInvalidUtf8[] =
    "a\x80 b\xc3 c\xe2\x82 d\xf0\x9f\x98 e\xed\xa0\x80 f\xc0\xaf g\xff\xfe h\xf8\x88\x80\x80\x80 "
    "\x00 end";

std::map<std::string, std::string> tokenizer_encode_seeds() {
  return {
      {"english.txt", "Hello, world! It's 2024: the quick brown fox jumps over 13 lazy dogs.\n"},
      {"code.txt", "def f(x):\n    return x ** 2  # square\n\tif (a && b) { c++; }\r\n"},
      {"cjk.txt",
       "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82 "
       "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf"},
      {"emoji.txt", "caf\xc3\xa9 \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd n\xcc\x83"},
      {"special.txt",
       "<\xef\xbd\x9c"
       "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>User: "
       "<image_placeholder>What is this?<\xef\xbd\x9c"
       "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"},
      {"invalid_utf8.txt", std::string(kInvalidUtf8, sizeof(kInvalidUtf8) - 1)},
      {"spaces.txt", "   \n\n\t  x  \xc2\xa0\xe2\x80\x83y\n"},
  };
}

std::map<std::string, std::string> chat_template_seeds() {
  const std::string rs = "\x1e";
  const char user = 0, assistant = 1, user_1_image = 4, user_2_images = 8;
  return {
      {"one_turn.txt", "You are a helpful assistant." + rs + std::string(1, user) + "Hi there"},
      {"image.txt", rs + std::string(1, user_1_image) + "<image_placeholder>Describe the image."},
      {"two_turns.txt", "sys" + rs + std::string(1, user_2_images) +
                            "Compare <image> and <image>." + rs + std::string(1, assistant) +
                            "They differ." + rs + std::string(1, user) + "  Why?  "},
      {"front_images.txt", rs + std::string(1, user_2_images) + "What changed?"},
  };
}

std::map<std::string, std::string> server_request_seeds(const std::string& image_dir) {
  const std::string png = server::base64_encode(read_all(image_dir + "/rgb.png"));
  const std::string gif = server::base64_encode(read_all(image_dir + "/palette.gif"));
  return {
      {"text.json",
       R"({"model":"dsvl","messages":[{"role":"user","content":"Hello!"}],"max_tokens":8})"},
      {"system_turns.json",
       R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},)"
       R"({"role":"assistant","content":"Hello."},{"role":"user","content":"And now?"}],)"
       R"("temperature":0.7,"top_p":0.9,"seed":-3,"stop":["\n\n","User:"],"stream":true,)"
       R"("stream_options":{"include_usage":true}})"},
      {"image.json",
       R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
           png +
           R"("}},{"type":"text","text":"What is in the image?"}]}],"logprobs":true,"top_logprobs":2})"},
      {"two_images.json",
       R"({"messages":[{"role":"user","content":[{"type":"text","text":"Compare"},)"
       R"({"type":"image_url","image_url":"data:image/png;base64,)" +
           png + R"("},{"type":"image_url","image_url":{"url":"data:image/gif;base64,)" + gif +
           R"("}},{"type":"text","text":"Answer in JSON."}]}],"response_format":{"type":"json_object"},)"
           R"("max_completion_tokens":32,"stop_token_ids":[100001]})"},
  };
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> make_fuzz_seeds() {
  const std::string image_dir = std::string(DSVL_SOURCE_DIR) + "/tests/fuzz-seeds/image";
  return {
      {"safetensors", safetensors_seeds()},
      {"config", config_seeds()},
      {"tokenizer_json", tokenizer_json_seeds()},
      {"tokenizer_encode", tokenizer_encode_seeds()},
      {"chat_template", chat_template_seeds()},
      {"server_request", server_request_seeds(image_dir)},
  };
}

}  // namespace dsvl::test
