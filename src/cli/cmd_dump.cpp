// dsvl dump: the conformance contract (CONTRACTS.md). Prints nothing on success.
#include <cstdio>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "runtime/dump.h"

namespace dsvl::cli {
namespace {

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    long long v;
    try {
      v = std::stoll(item, &pos);
    } catch (const std::exception&) {
      throw RequestError("--ids: \"" + item + "\" is not an integer");
    }
    if (pos != item.size() || v < INT32_MIN || v > INT32_MAX)
      throw RequestError("--ids: \"" + item + "\" is not a valid token id");
    ids.push_back(int32_t(v));
  }
  return ids;
}

int run_dump(const std::vector<std::string>& argv) {
  Args a(argv, {"--model", "--ids", "--image", "--image-token-id", "--steps", "--out", "--threads"},
         {"--debug", "--help"}, {{"-m", "--model"}, {"-t", "--threads"}});
  if (a.has("--help")) {
    std::printf(
        "usage: dsvl dump --model DIR --ids ID,ID,... [--image FILE]... [--image-token-id N]\n"
        "                 [--steps N] [--debug] --out OUT.safetensors\n"
        "Runs the model in float32 and writes every stage as the conformance kit names it.\n");
    return 0;
  }
  runtime::DumpParams p;
  p.model_dir = a.require("--model");
  p.ids = parse_ids(a.require("--ids"));
  p.images = a.get_all("--image");
  if (a.has("--image-token-id")) p.image_token_id = int32_t(a.get_int("--image-token-id", 0));
  p.steps = int(a.get_int("--steps", 16));
  p.debug = a.has("--debug");
  p.out = a.require("--out");
  runtime::dump(p);
  return 0;
}

Registration reg({"dump", "run the model on ids + images and write every stage's tensors",
                  run_dump});

}  // namespace
}  // namespace dsvl::cli
