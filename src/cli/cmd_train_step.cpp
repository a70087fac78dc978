// dsvl train-step --case CASE.json --out OUT.safetensors
// Runs one case of the training conformance kit (stage forward + backward, AdamW steps or
// MC-PPL scoring) and writes the tensors named in conformance-train/README.md.
#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "core/threadpool.h"
#include "io/safetensors.h"
#include "train/kit_case.h"

namespace dsvl::cli {
namespace {

int run_train_step(const std::vector<std::string>& argv) {
  Args args(argv, {"--case", "--out", "--threads", "--save-model", "--save-dtype"}, {"--help"});
  if (args.has("--help")) {
    std::fprintf(stderr,
                 "usage: dsvl train-step --case CASE.json --out OUT.safetensors [--threads N]\n"
                 "                       [--save-model DIR [--save-dtype bf16|f16|f32|source]]\n"
                 "  CASE.json: a case of the training conformance kit (paths inside it are\n"
                 "  relative to the kit folder, the case file's parent's parent)\n"
                 "  --save-model: also save the model after the case (after the AdamW updates)\n"
                 "  as a model folder in the released layout\n");
    return 0;
  }
  const std::string case_json = args.require("--case");
  const std::string out = args.require("--out");
  const long long threads = args.get_int("--threads", 0);
  if (threads > 0) set_num_threads(int(threads));
  const auto t0 = std::chrono::steady_clock::now();
  train::KitCaseOptions opt;
  opt.save_model_dir = args.get_or("--save-model", "");
  opt.save_dtype = args.get_or("--save-dtype", "bf16");
  const auto tensors = train::run_kit_case(case_json, opt);
  io::write_safetensors(out, tensors);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "train-step: %zu tensors written to %s in %.2f s\n", tensors.size(),
               out.c_str(), s);
  return 0;
}

const Registration kReg({"train-step",
                         "run one training conformance case (loss, gradients, AdamW, MC-PPL)",
                         run_train_step});

}  // namespace
}  // namespace dsvl::cli
