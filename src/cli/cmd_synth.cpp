// dsvl synth: a model folder in the released layout with random weights.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "core/error.h"
#include "io/model_info.h"
#include "io/synth.h"

namespace dsvl::cli {
namespace {

constexpr const char* kUsage =
    "usage: dsvl synth --like 1.3b-chat|7b-chat --out DIR [--dtype bf16|f16|f32] [--seed N]\n"
    "                  [--shards K] [--tokenizer DIR] [--tiny]\n"
    "  Writes a model folder with the released configs and every tensor of the released\n"
    "  checkpoint (real names and shapes) filled with random values. The model is random: it\n"
    "  answers with nonsense, but exercises every code path at full or tiny size.\n"
    "  --dtype      storage dtype (default f16, as the released config.json names)\n"
    "  --seed       random seed (default 0); the same seed gives the same bytes\n"
    "  --shards     K > 1 writes model-0000i-of-0000K.safetensors + model.safetensors.index.json\n"
    "  --tokenizer  copy tokenizer.json (+ tokenizer_config.json) from DIR; default: build a\n"
    "               small byte-level BPE tokenizer with the same special tokens\n"
    "  --tiny       small widths and depths (arch objects + language_config), vocabulary\n"
    "               sized to the tokenizer; full size keeps 102400 embedding rows\n";

DType parse_dtype(const std::string& s) {
  if (s == "f16" || s == "float16") return DType::kF16;
  if (s == "bf16" || s == "bfloat16") return DType::kBF16;
  if (s == "f32" || s == "float32") return DType::kF32;
  throw RequestError("--dtype must be bf16, f16 or f32, got \"" + s + "\"");
}

int run_synth(const std::vector<std::string>& argv) {
  Args args(argv, {"--like", "--out", "--dtype", "--seed", "--shards", "--tokenizer"},
            {"--tiny", "--help"});
  if (args.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.positional().empty())
    throw RequestError("unexpected argument \"" + args.positional()[0] + "\"\n" + kUsage);
  io::SynthOptions opt;
  opt.like = args.require("--like");
  opt.out_dir = args.require("--out");
  opt.dtype = parse_dtype(args.get_or("--dtype", "f16"));
  const long long seed = args.get_int("--seed", 0);
  if (seed < 0) throw RequestError("--seed must be >= 0");
  opt.seed = uint64_t(seed);
  opt.shards = int(std::min<long long>(args.get_int("--shards", 1), 1 << 30));
  opt.tokenizer_dir = args.get_or("--tokenizer", "");
  opt.tiny = args.has("--tiny");
  // A progress line on a terminal, redrawn at most every 200 ms.
  const bool tty = isatty(fileno(stderr));
  auto last = std::chrono::steady_clock::now();
  if (tty)
    opt.progress = [&](uint64_t done, uint64_t total) {
      const auto now = std::chrono::steady_clock::now();
      if (done < total && now - last < std::chrono::milliseconds(200)) return;
      last = now;
      std::fprintf(stderr, "\rsynth: %s / %s (%3d%%)", io::human_bytes(done).c_str(),
                   io::human_bytes(total).c_str(), int(total ? 100 * done / total : 100));
      if (done == total) std::fputc('\n', stderr);
    };
  const auto t0 = std::chrono::steady_clock::now();
  const io::SynthResult r = io::synth_model(opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: %s layout%s, %lld tensors, %s parameters, %s in %zu file%s (%.1f s)\n",
              opt.out_dir.c_str(), opt.like.c_str(), opt.tiny ? " (tiny)" : "",
              (long long)r.n_tensors, io::with_commas(r.n_params).c_str(),
              io::human_bytes(r.data_bytes).c_str(), r.files.size(), r.files.size() == 1 ? "" : "s",
              secs);
  std::printf("random weights: answers are nonsense; tokenizer ids: %d, embedding rows: %d\n",
              r.tokenizer_ids, r.config.llm.vocab_size);
  return 0;
}

const Registration kSynth({"synth", "write a random model folder in the released layout",
                           run_synth});

}  // namespace
}  // namespace dsvl::cli
