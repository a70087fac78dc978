// The small tokenizer `dsvl synth` writes when no --tokenizer is given: byte-level BPE in the
// layout of the DeepSeek LLM tokenizer.json, trained here on a few paragraphs of English so the
// quick start works from a plain clone (no download).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/synth.h"

namespace dsvl::io {
namespace {
using ojson = nlohmann::ordered_json;

constexpr const char* kBos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>";
constexpr const char* kEos = "<\uff5cend\u2581of\u2581sentence\uff5c>";
constexpr const char* kImage = "<image_placeholder>";

// The DeepSeek LLM pre-tokenizer, verbatim from the real tokenizer.json (see
// ../shared/tokenizers/README.md): the same splits give the same behaviour on any text.
constexpr const char* kPreTokenizer =
    R"tok({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "[\r\n]"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s?[!-/:-~！-／：-～‘-‟　-。]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\s+$"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[一-龥ࠀ-一가-퟿]+"}, "behavior": "Isolated", "invert": false}, {"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})tok";

// Training text: plain descriptions of pictures and a little chat, written for this project.
constexpr const char* kCorpus =
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language.\n\n"
    "User: Describe this image.\n\nAssistant: The image shows a small house under a blue sky. "
    "There is a yellow sun in the upper left corner and a green field in front of the house. "
    "The roof of the house is red, and the door is brown. Two trees stand on the right side of "
    "the picture, and a path leads from the door to the bottom of the image.\n\n"
    "User: What colors do you see?\n\nAssistant: I see blue, green, red, yellow, white and "
    "brown. The sky is light blue at the top and becomes brighter near the horizon. The grass "
    "is a bright green, and the clouds are white.\n\n"
    "User: How many windows does the house have?\n\nAssistant: The house has two windows, one "
    "on each side of the door. Each window is a square with a thin frame.\n\n"
    "A photograph of a cat sitting on a wooden table next to a cup of coffee. The cat is looking "
    "at the camera with its green eyes, and its tail is curled around its paws. In the "
    "background there is a window with white curtains, and the light of the morning sun falls "
    "across the table.\n\n"
    "A chart with three bars shows the number of visitors in each month. The first bar is the "
    "shortest and the third bar is the tallest, which means that the number of visitors grew "
    "over time. The title of the chart is written in large letters at the top.\n\n"
    "A street in a city at night, with people walking past shops whose signs are lit in many "
    "colors. A red car is waiting at the traffic light, and a woman on a bicycle is crossing the "
    "road. The buildings are tall and their windows reflect the lights of the street.\n\n"
    "The diagram explains how the model reads an image: the picture is cut into small patches, "
    "each patch becomes a vector, and the vectors are passed through many layers before the "
    "language model writes its answer one token at a time.\n\n"
    "User: Is there any text in the image?\n\nAssistant: Yes, there is a short line of text at "
    "the bottom. It says that the photo was taken in the summer of 2023 near the sea.\n\n"
    "Children are playing with a ball in a park while their parents sit on a bench. Birds are "
    "flying over the trees, and a dog is running after the ball. It is a warm and sunny day, and "
    "everyone seems to be happy.\n\n"
    "User: What is written on the sign?\n\nAssistant: The sign on the wall reads \"Open every "
    "day from 9 to 5\". It is painted in black letters on a white board, and there is an arrow "
    "pointing to the entrance of the building.\n\n"
    "A plate of food on a kitchen table: there are two slices of bread, an egg, some tomatoes "
    "and a small bowl of salad. A knife and a fork are placed on the left side of the plate, and "
    "a glass of orange juice stands behind it.\n\n"
    "The screenshot shows a web page with a search box at the top, a list of results below it, "
    "and a menu on the left. The first result is highlighted, and the page number is shown at "
    "the bottom of the screen.\n\n"
    "User: Can you explain what is happening in this picture?\n\nAssistant: A group of people "
    "is standing around a table and looking at a map. One person is pointing at a place on the "
    "map, and the others are listening. They seem to be planning a trip through the mountains, "
    "because there are photos of hills and rivers next to the map.\n\n"
    "Mountains rise behind a quiet lake, and their white tops are reflected in the water. A "
    "small boat with a single person is moving slowly across the lake, leaving a thin line on "
    "the surface. The air looks clear and cold, and there are no clouds in the sky.\n";

// GPT-2's byte-to-unicode map: printable bytes map to themselves, the others to U+0100 ...
// Returns the byte order (ids 0..255) and each byte's character.
void byte_alphabet(std::vector<int>* order, std::vector<std::string>* chars) {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<int> cp(256, 0);
  for (int b : bs) cp[size_t(b)] = b;
  int extra = 0;
  for (int b = 0; b < 256; ++b)
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cp[size_t(b)] = 256 + extra++;
    }
  *order = bs;
  chars->assign(256, "");
  for (int b = 0; b < 256; ++b) {
    const int c = cp[size_t(b)];
    std::string& s = (*chars)[size_t(b)];
    if (c < 0x80) {
      s = std::string(1, char(c));
    } else {  // two-byte UTF-8 (all code points are < 0x800)
      s += char(0xC0 | (c >> 6));
      s += char(0x80 | (c & 0x3F));
    }
  }
}

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_punct(char c) { return c >= '!' && c <= '~' && !is_letter(c) && !is_digit(c); }

// An ASCII approximation of the pre-tokenizer above: newlines alone, " ?letters+",
// " ?punctuation+", single digits, other whitespace runs. Merges learned across boundaries the
// real splitter would draw are never applied, so the approximation only costs unused merges.
std::vector<std::string> pre_split(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    const char c = s[i];
    const bool lead_space = is_space(c) && i + 1 < s.size();
    const char d = lead_space ? s[i + 1] : c;
    if (c == '\n' || c == '\r') {
      j = i + 1;
    } else if (is_letter(d) || is_punct(d)) {
      j = lead_space && (is_letter(d) || is_punct(d)) ? i + 1 : i;
      const bool letters = is_letter(s[j]);
      while (j < s.size() && (letters ? is_letter(s[j]) : is_punct(s[j]))) ++j;
    } else if (is_digit(c)) {
      j = i + 1;
    } else {
      while (j < s.size() && is_space(s[j])) ++j;
      if (j < s.size() && (is_letter(s[j]) || is_punct(s[j])) && j - 1 > i) --j;
      if (j == i) j = i + 1;  // any other byte stands alone
    }
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Learns up to n_merges merges; returns them as pairs of token ids, appending merged tokens
// to `vocab` (token strings, index = id).
std::vector<std::pair<int, int>> learn_merges(const std::vector<int>& byte_id, int n_merges,
                                              std::vector<std::string>* vocab) {
  std::map<std::string, int> word_count;
  for (const std::string& w : pre_split(kCorpus)) ++word_count[w];
  std::vector<std::vector<int>> words;
  std::vector<int> counts;
  for (const auto& [w, n] : word_count) {
    std::vector<int> ids;
    for (unsigned char b : w) ids.push_back(byte_id[b]);
    words.push_back(ids);
    counts.push_back(n);
  }
  std::set<std::string> known(vocab->begin(), vocab->end());
  std::set<std::pair<int, int>> banned;  // pairs whose merged string already exists
  std::vector<std::pair<int, int>> merges;
  while (int(merges.size()) < n_merges) {
    std::map<std::pair<int, int>, int> pair_count;
    for (size_t w = 0; w < words.size(); ++w)
      for (size_t k = 0; k + 1 < words[w].size(); ++k)
        pair_count[{words[w][k], words[w][k + 1]}] += counts[w];
    std::pair<int, int> best{-1, -1};
    int best_n = 1;                        // a merge must occur at least twice
    for (const auto& [p, n] : pair_count)  // map order: ties go to the smallest pair
      if (n > best_n && !banned.count(p)) {
        best = p;
        best_n = n;
      }
    if (best.first < 0) break;
    const std::string merged = (*vocab)[size_t(best.first)] + (*vocab)[size_t(best.second)];
    if (known.count(merged)) {
      banned.insert(best);
      continue;
    }
    const int id = int(vocab->size());
    vocab->push_back(merged);
    known.insert(merged);
    merges.push_back(best);
    for (auto& w : words) {
      std::vector<int> r;
      for (size_t k = 0; k < w.size(); ++k) {
        if (k + 1 < w.size() && w[k] == best.first && w[k + 1] == best.second) {
          r.push_back(id);
          ++k;
        } else {
          r.push_back(w[k]);
        }
      }
      w.swap(r);
    }
  }
  return merges;
}

ojson added_token(int id, const std::string& content) {
  return ojson{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
               {"rstrip", false}, {"normalized", false}, {"special", true}};
}

}  // namespace

TokenizerFiles build_small_tokenizer(int n_merges) {
  std::vector<int> order;
  std::vector<std::string> byte_chars;
  byte_alphabet(&order, &byte_chars);
  std::vector<std::string> vocab;  // id -> token string
  std::vector<int> byte_id(256);
  for (int b : order) {
    byte_id[size_t(b)] = int(vocab.size());
    vocab.push_back(byte_chars[size_t(b)]);
  }
  const auto merges = learn_merges(byte_id, n_merges, &vocab);

  ojson model{{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false}};
  ojson v = ojson::object();
  for (size_t id = 0; id < vocab.size(); ++id) v[vocab[id]] = id;
  model["vocab"] = v;
  ojson m = ojson::array();
  for (const auto& [a, b] : merges) m.push_back(vocab[size_t(a)] + " " + vocab[size_t(b)]);
  model["merges"] = m;

  const int bos = int(vocab.size()), eos = bos + 1, image = bos + 2;
  ojson t;
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  t["added_tokens"] = {added_token(bos, kBos), added_token(eos, kEos), added_token(image, kImage)};
  t["normalizer"] = nullptr;
  t["pre_tokenizer"] = ojson::parse(kPreTokenizer);
  t["post_processor"] = {{"type", "ByteLevel"},
                         {"add_prefix_space", true},
                         {"trim_offsets", false},
                         {"use_regex", true}};
  t["decoder"] = {{"type", "ByteLevel"},
                  {"add_prefix_space", true},
                  {"trim_offsets", true},
                  {"use_regex", true}};
  t["model"] = model;

  ojson cfg{{"add_bos_token", true},
            {"add_eos_token", false},
            {"bos_token", kBos},
            {"eos_token", kEos},
            {"pad_token", nullptr},
            {"unk_token", nullptr},
            {"clean_up_tokenization_spaces", false},
            {"legacy", true},
            {"model_max_length", 16384},
            {"tokenizer_class", "LlamaTokenizerFast"},
            {"additional_special_tokens", {kImage}}};
  auto special = [](const char* s) {
    return ojson{{"content", s},
                 {"lstrip", false},
                 {"normalized", true},
                 {"rstrip", false},
                 {"single_word", false}};
  };
  ojson map{{"additional_special_tokens", {kImage}},
            {"bos_token", special(kBos)},
            {"eos_token", special(kEos)}};
  return TokenizerFiles{t.dump(2, ' ', false) + "\n", cfg.dump(2, ' ', false) + "\n",
                        map.dump(2, ' ', false) + "\n", image + 1};
}

int tokenizer_id_count(const std::string& text, const std::string& name) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(name + ": not valid JSON: " + e.what());
  }
  int n = 0;
  if (j.contains("model") && j["model"].contains("vocab") && j["model"]["vocab"].is_object())
    for (const auto& [tok, id] : j["model"]["vocab"].items())
      if (id.is_number_integer()) n = std::max(n, id.get<int>() + 1);
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& t : j["added_tokens"])
      if (t.contains("id") && t["id"].is_number_integer()) n = std::max(n, t["id"].get<int>() + 1);
  if (n == 0) throw IoError(name + ": no token ids found (model.vocab / added_tokens)");
  return n;
}

}  // namespace dsvl::io
