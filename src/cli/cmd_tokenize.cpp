// dsvl tokenize: the tokenizer contract command (corpus in, reference-format JSON out) and a
// human view of one text's tokens.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace {

using dsvl::tokenizer::Tokenizer;
using nlohmann::json;

constexpr const char* kUsage =
    "usage: dsvl tokenize --tokenizer DIR --corpus CORPUS.json --out OUT.json\n"
    "       dsvl tokenize --tokenizer DIR [--no-special] \"text\"   (or --text TEXT)\n"
    "       dsvl tokenize --tokenizer DIR --ids 1,2,3 [--skip-special]\n"
    "  DIR holds tokenizer.json (+ tokenizer_config.json); -m/--model is accepted for it.\n"
    "  CORPUS.json: [{\"id\": ..., \"text\": ...}, ...]\n"
    "  OUT.json: {\"entries\": [{id, ids, ids_with_special, decoded, decoded_skip_special}]}\n";

template <class Json>
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::strict);
}

int run_corpus(const Tokenizer& tok, const std::string& corpus_path, const std::string& out_path) {
  std::ifstream in(corpus_path, std::ios::binary);
  if (!in) throw dsvl::IoError(corpus_path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  json corpus;
  try {
    corpus = json::parse(ss.str());
  } catch (const json::exception& e) {
    throw dsvl::IoError(corpus_path + ": invalid JSON (" + e.what() + ")");
  }
  if (!corpus.is_array())
    throw dsvl::RequestError(corpus_path + ": expected a list of {\"id\", \"text\"} objects");
  std::string out = "{\"entries\": [\n";
  for (size_t k = 0; k < corpus.size(); ++k) {
    const json& e = corpus[k];
    if (!e.is_object() || !e.contains("text") || !e["text"].is_string())
      throw dsvl::RequestError(corpus_path + ": entry " + std::to_string(k) +
                               " has no string \"text\"");
    const std::string& text = e["text"].get_ref<const std::string&>();
    std::vector<int32_t> ids = tok.encode(text, false);
    std::vector<int32_t> ids_special = tok.encode(text, true);
    nlohmann::ordered_json entry = {{"id", e.contains("id") ? e["id"] : json(k)},
                                    {"ids", ids},
                                    {"ids_with_special", ids_special},
                                    {"decoded", tok.decode(ids, false)},
                                    {"decoded_skip_special", tok.decode(ids_special, true)}};
    out += dump(entry);
    out += k + 1 < corpus.size() ? ",\n" : "\n";
  }
  out += "]}\n";
  std::ofstream f(out_path, std::ios::binary);
  if (!f || !f.write(out.data(), static_cast<std::streamsize>(out.size())))
    throw dsvl::IoError(out_path + ": cannot write");
  std::fprintf(stderr, "tokenized %zu entries -> %s\n", corpus.size(), out_path.c_str());
  return 0;
}

void print_tokens(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::printf("%zu ids:", ids.size());
  for (int32_t id : ids) std::printf(" %d", id);
  std::printf("\n%8s  %-24s %s\n", "id", "token", "text");
  for (int32_t id : ids) {
    std::string token = tok.token_text(id);
    std::string text = dump(json(tok.decode({id}, false)));
    std::printf("%8d  %-24s %s%s\n", id, token.empty() ? "(none)" : token.c_str(), text.c_str(),
                tok.is_special(id) ? "  [special]" : "");
  }
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument("range");
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw dsvl::RequestError("--ids: \"" + item + "\" is not a token id");
    }
  }
  return ids;
}

int run(const std::vector<std::string>& argv) {
  dsvl::cli::Args args(argv, {"--tokenizer", "--model", "--corpus", "--out", "--text", "--ids"},
                       {"--no-special", "--skip-special", "--help"});
  if (args.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::string dir = args.get_or("--tokenizer", args.get_or("--model", ""));
  if (dir.empty())
    throw dsvl::RequestError("missing required flag --tokenizer\n" + std::string(kUsage));
  Tokenizer tok = Tokenizer::load(dir);
  if (args.has("--corpus")) return run_corpus(tok, args.require("--corpus"), args.require("--out"));
  if (args.has("--ids")) {
    std::fputs(tok.decode(parse_ids(*args.get("--ids")), args.has("--skip-special")).c_str(),
               stdout);
    std::fputc('\n', stdout);
    return 0;
  }
  std::vector<std::string> texts = args.positional();
  if (auto t = args.get("--text")) texts.push_back(*t);
  if (texts.empty()) throw dsvl::RequestError("nothing to tokenize\n" + std::string(kUsage));
  for (const auto& text : texts) print_tokens(tok, tok.encode(text, !args.has("--no-special")));
  return 0;
}

const dsvl::cli::Registration kRegistration({"tokenize",
                                             "tokenize a text or a corpus (tokenizer.json)", run});

}  // namespace
