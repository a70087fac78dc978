// dsvl run: one prompt (with images) in, the streamed answer out.
#include <cstdio>

#include "cli/command.h"
#include "cli/generation_flags.h"
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
    "  -n N                   max new tokens (512)\n"
    "  --temp T               temperature (0.2; 0 = greedy)\n"
    "  --top-p P  --top-k K  --min-p P  --repeat-penalty R (0.95, 50, 0, 1.1)\n"
    "  --seed S               random seed (default: time)\n"
    "  --stop TEXT            extra stop string (repeatable)\n"
    "  --ctx N                context length (4096)\n"
    "  -t, --threads N        threads (all cores)\n";

int run(const std::vector<std::string>& argv) {
  auto flags = generation_value_flags();
  flags.insert(flags.end(), {"--image", "--prompt", "--system"});
  Args a(argv, flags, {"--raw", "--help", "--no-timings"},
         {{"-m", "--model"}, {"-p", "--prompt"}, {"-t", "--threads"}});
  if (a.has("--help")) {
    std::printf("%s", kUsage);
    return 0;
  }
  LoadParams lp = parse_load(a);
  Request req;
  req.sampling = parse_sampling(a);
  const std::string prompt = a.require("--prompt");
  std::vector<ImageInput> images;
  for (const std::string& f : a.get_all("--image")) images.push_back(ImageInput{f, "", f});
  lp.max_images = std::max<int>(lp.max_images, int(images.size()));
  if (a.has("--raw")) {
    req.raw = prompt;
    req.raw_images = images;
  } else {
    if (auto sys = a.get("--system")) req.messages.push_back({"system", *sys, {}});
    req.messages.push_back({"user", prompt, images});
  }
  auto engine = Engine::load(lp);
  Result r = engine->generate(req, [](const Delta& d) {
    if (!d.text.empty()) {
      std::fwrite(d.text.data(), 1, d.text.size(), stdout);
      std::fflush(stdout);
    }
  });
  if (r.finish_reason == "error") throw Error(r.error_kind, r.error);
  std::printf("\n");
  if (!a.has("--no-timings")) print_timings(r);
  return 0;
}

Registration reg({"run", "answer one prompt about images, streaming the answer", run});

}  // namespace
}  // namespace dsvl::cli
