// dsvl run: one prompt (with images) in, the streamed answer out on stdout; progress and
// timings on stderr, so `dsvl run ... > answer.txt` captures the answer alone.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "cli/command.h"
#include "cli/generation_flags.h"
#include "cli/progress.h"
#include "core/error.h"
#include "dsvl/dsvl.h"

namespace dsvl::cli {
namespace {

constexpr const char* kUsage =
    "usage: dsvl run -m MODEL_DIR [--image FILE]... -p \"PROMPT\" [options]\n"
    "\n"
    "  -m, --model DIR        model folder as downloaded from Hugging Face\n"
    "  --image FILE           an image (repeatable); write <image> in the prompt to place it,\n"
    "                         otherwise images go before the text\n"
    "  -p, --prompt TEXT      the question\n"
    "  --system TEXT          system prompt (default: DeepSeek-VL's)\n"
    "  --raw                  send the prompt as is, without the chat template (base models)\n"
    "  -n N                   max new tokens (512, bounded by the context left)\n"
    "  --temp T               temperature (0.2; 0 = greedy)\n"
    "  --top-p P  --top-k K  --min-p P  --repeat-penalty R (0.95, 50, 0, 1.1)\n"
    "  --seed S               random seed (default: time)\n"
    "  --stop TEXT            extra stop string (repeatable)\n"
    "  --ctx N                context length (4096)\n"
    "  -t, --threads N        threads (all cores)\n"
    "  --precision P          auto|f32|bf16 (auto: bf16 for F16/BF16 weights, f32 for F32)\n"
    "  --no-mmap              bf16: copy BF16 weights into memory (faster decode, slower start)\n"
    "  --no-repack            keep the LLM's matrices as stored, mapped (instant start,\n"
    "                         slower decode; default: repacked at load for the GEMMs)\n"
    "  --no-timings           do not print the timings to stderr\n";

// Fails fast, before the model loads, on an image that cannot be opened.
ImageInput checked_image(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || access(path.c_str(), R_OK) != 0)
    throw RequestError("cannot read image " + path);
  if (!S_ISREG(st.st_mode)) throw RequestError("image " + path + " is not a file");
  return ImageInput{path, "", path};
}

size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size()))
    ++n;
  return n;
}

// The engine checks this too; checking before the model loads saves the user the wait.
void check_markers(const std::string& prompt, size_t n_images) {
  const size_t written = count_of(prompt, "<image>") + count_of(prompt, "<image_placeholder>");
  if (written != 0 && written != n_images)
    throw RequestError("the prompt has " + std::to_string(written) + " image marker(s) but " +
                       std::to_string(n_images) + " --image file(s) were given");
}

Request build_request(const Args& a) {
  Request req;
  req.sampling = parse_sampling(a);
  const std::string prompt = a.require("--prompt");
  std::vector<ImageInput> images;
  for (const std::string& f : a.get_all("--image")) images.push_back(checked_image(f));
  check_markers(prompt, images.size());
  if (a.has("--raw")) {
    if (a.has("--system")) throw RequestError("--system has no effect with --raw");
    req.raw = prompt;
    req.raw_images = std::move(images);
  } else {
    if (auto sys = a.get("--system")) req.messages.push_back({"system", *sys, {}});
    req.messages.push_back({"user", prompt, std::move(images)});
  }
  return req;
}

// Why generation ended, for the timings block.
std::string finish_text(const Engine& engine, const Result& r, int32_t last_token) {
  if (r.finish_reason == "length")
    return "length (" + std::to_string(r.usage.completion_tokens) +
           " tokens, the -n limit or the context)";
  if (r.finish_reason != "stop") return r.finish_reason;
  const bool special = last_token >= 0 && engine.detokenize({last_token}, true).empty() &&
                       !engine.detokenize({last_token}, false).empty();
  return special ? "stop (end of sequence)" : "stop (stop string)";
}

int run(const std::vector<std::string>& argv) {
  auto flags = generation_value_flags();
  flags.insert(flags.end(), {"--image", "--prompt", "--system"});
  Args a(argv, flags, {"--raw", "--help", "--no-timings", "--no-mmap", "--no-repack"},
         {{"-m", "--model"}, {"-p", "--prompt"}, {"-t", "--threads"}});
  if (a.has("--help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  reject_positional(a);
  LoadParams lp = parse_load(a);
  Request req = build_request(a);
  const size_t n_images = req.raw ? req.raw_images.size() : req.messages.back().images.size();
  // Every image the user names is wanted: the context, not a count, is the limit here.
  lp.max_images = std::max<int>(lp.max_images, int(n_images));
  std::unique_ptr<Engine> engine = load_engine(lp);

  // The template ends with "Assistant:"; the space the answer starts with is not part of it.
  bool trim = !req.raw, started = false;
  int32_t last_token = -1;
  Spinner spinner(n_images ? "encoding " + std::to_string(n_images) + " image(s)" : "prefill");
  auto on_delta = [&](const Delta& d) {
    if (d.token >= 0) last_token = d.token;
    std::string_view text = d.text;
    if (trim) {
      text.remove_prefix(std::min(text.size(), text.find_first_not_of(" \t\r\n")));
      if (text.empty()) return;
      trim = false;
    }
    if (!started) started = true, spinner.stop();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  Result r;
  try {
    r = engine->generate(req, on_delta);
  } catch (const LimitError& too_long) {
    if (max_tokens_given(a)) throw;
    // The default 512 new tokens shrink to the room the prompt leaves. A prompt that does
    // not fit at all keeps the first message (it counts image and text tokens).
    int n_prompt = 0;
    try {
      n_prompt = engine->count_prompt_tokens(req);
    } catch (const LimitError&) {
      throw too_long;
    }
    if (n_prompt >= engine->info().ctx) throw too_long;
    req.sampling.max_tokens = engine->info().ctx - n_prompt;
    r = engine->generate(req, on_delta);
  }
  spinner.stop();
  if (r.finish_reason == "error") throw Error(r.error_kind, r.error);
  std::printf("\n");
  std::fflush(stdout);
  if (!a.has("--no-timings")) print_timings(r, finish_text(*engine, r, last_token));
  return 0;
}

Registration reg({"run", "answer one prompt about images, streaming the answer", run});

}  // namespace
}  // namespace dsvl::cli
