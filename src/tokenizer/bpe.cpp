#include "tokenizer/bpe.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_util.h"

namespace dsvl::tokenizer {
namespace {

constexpr const char* kWhat = "model";

void check_supported_options(const nlohmann::json& m) {
  if (auto it = m.find("dropout"); it != m.end() && !it->is_null()) {
    if (!it->is_number()) json_fail(kWhat, "dropout", "is not a number");
    if (it->get<double>() != 0.0)
      throw ConfigError("model: BPE dropout " + it->dump() +
                        " is not supported (inference needs dropout null or 0)");
  }
  if (json_bool(m, "byte_fallback", false, kWhat))
    throw ConfigError("model: BPE byte_fallback is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = m.find(key);
    if (it != m.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()))
      throw ConfigError(std::string("model: BPE ") + key + " " + it->dump() +
                        " is not supported (only null or \"\")");
  }
}

// Splits "a b" merge lines (lines starting with "#version" are skipped, as in tokenizers'
// convert_merges_to_hashmap). The views point into `merges`.
std::vector<std::pair<std::string_view, std::string_view>> merge_pairs(
    const std::vector<RawMerge>& merges) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  out.reserve(merges.size());
  for (size_t k = 0; k < merges.size(); ++k) {
    const RawMerge& e = merges[k];
    if (!e.is_line) {
      out.emplace_back(e.first, e.second);
      continue;
    }
    std::string_view line = e.first;
    if (line.substr(0, 8) == "#version") continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      throw ConfigError("model: merges[" + std::to_string(k) + "] \"" + e.first +
                        "\" is not two tokens separated by one space");
    out.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return out;
}

// One symbol of the word being merged, linked to its neighbours (word.rs Symbol).
struct Symbol {
  int32_t id;
  int32_t prev, next;
  uint32_t len;  // 0 once merged into its left neighbour
};

struct Candidate {
  uint32_t rank, pos;
  int32_t new_id;
  // Heap order: the lowest rank first, then the leftmost position.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

// Ids index dense tables (id -> token, id -> bytes), so a stray huge id would allocate
// gigabytes; the largest real vocabularies hold ~256K tokens.
constexpr int64_t kMaxTokenId = (int64_t{1} << 22) - 1;

Bpe Bpe::from_json(const nlohmann::json& m, BpeTables tables) {
  if (!m.is_object()) throw ConfigError("\"model\" is missing or not an object");
  if (auto t = m.find("type"); t != m.end() && !(t->is_string() && t->get<std::string>() == "BPE"))
    throw ConfigError("model type " + t->dump() + " is not supported (supported: BPE)");
  check_supported_options(m);
  if (!tables.has_vocab && !tables.has_merges) tables_from_dom(m, tables);
  if (!tables.has_vocab) json_fail(kWhat, "vocab", "missing or not an object");
  if (!tables.has_merges) json_fail(kWhat, "merges", "missing or not an array");
  Bpe bpe;
  bpe.vocab_.reserve(tables.vocab.size());
  bpe.byte_vocab_.reserve(tables.vocab.size());
  for (auto& [token, id64] : tables.vocab) {
    if (id64 < 0 || id64 > kMaxTokenId)
      throw ConfigError("model: vocab[\"" + token + "\"] = " + std::to_string(id64) +
                        " is not a valid id (0 to " + std::to_string(kMaxTokenId) + ")");
    auto i = static_cast<int32_t>(id64);
    if (auto bytes = byte_level::token_to_bytes(token)) bpe.byte_vocab_.insert_or_assign(*bytes, i);
    if (static_cast<size_t>(i) >= bpe.tokens_.size())
      bpe.tokens_.resize(std::max<size_t>(i + 1, 2 * bpe.tokens_.size()));
    bpe.max_id_ = std::max(bpe.max_id_, i);
    bpe.vocab_.insert_or_assign(token, i);
    bpe.tokens_[i] = {std::move(token), true};
  }
  bpe.tokens_.resize(static_cast<size_t>(bpe.max_id_ + 1));
  bpe.byte_ids_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    bpe.byte_ids_[b] = bpe.byte_vocab_.find(std::string(1, static_cast<char>(b)));
  }

  auto merges = merge_pairs(tables.merges);
  bpe.merges_.reserve(merges.size());
  auto lookup = [&](std::string_view tok, size_t rank) {
    int32_t id = bpe.vocab_.find(tok);
    if (id < 0)
      throw ConfigError("model: merge " + std::to_string(rank) + " (\"" +
                        std::string(merges[rank].first) + "\" + \"" +
                        std::string(merges[rank].second) + "\"): token \"" + std::string(tok) +
                        "\" is not in the vocabulary");
    return id;
  };
  std::string joined;
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    joined.assign(a).append(b);
    // Checked in the reference's order: left, right, merged.
    int32_t left = lookup(a, r), right = lookup(b, r), merged = lookup(joined, r);
    bpe.merges_.insert_or_assign(left, right, {static_cast<uint32_t>(r), merged});
  }

  if (auto u = m.find("unk_token"); u != m.end() && u->is_string()) {
    int32_t unk = bpe.vocab_.find(u->get<std::string>());
    if (unk < 0)
      throw ConfigError("model: unk_token \"" + u->get<std::string>() +
                        "\" is not in the vocabulary");
    bpe.unk_id_ = unk;
  }
  bpe.fuse_unk_ = json_bool(m, "fuse_unk", false, kWhat);
  bpe.ignore_merges_ = json_bool(m, "ignore_merges", false, kWhat);
  bpe.cache_ = std::make_shared<WordCache>();
  return bpe;
}

std::optional<int32_t> Bpe::token_to_id(std::string_view token) const {
  int32_t id = vocab_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

const std::string* Bpe::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !tokens_[id].second) return nullptr;
  return &tokens_[id].first;
}

void Bpe::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  if (ignore_merges_) {
    // A piece that is itself a token is taken whole (tokenize_with_cache in model.rs).
    if (int32_t id = byte_vocab_.find(bytes); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (bytes.size() == 1 && byte_ids_[static_cast<uint8_t>(bytes[0])] >= 0) {
    out.push_back(byte_ids_[static_cast<uint8_t>(bytes[0])]);
    return;
  }
  if (bytes.size() >= WordCache::kMaxWordBytes) {
    merge_word(bytes, out);
    return;
  }
  if (cache_->get(bytes, out)) return;
  size_t before = out.size();
  merge_word(bytes, out);
  cache_->put(bytes, out.data() + before, out.size() - before);
}

// word.rs merge_all, step for step: a heap of candidate merges ordered by (rank, position);
// a popped candidate is skipped when its left symbol is gone, is last, or the pair now at
// its position merges into a different id (the reference compares only the merged id).
void Bpe::merge_word(std::string_view bytes, std::vector<int32_t>& out) const {
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Candidate> heap;
  sym.clear();
  heap.clear();
  int32_t pending_unk_len = 0;  // bytes covered by a not yet emitted unk symbol
  auto add = [&](int32_t id, uint32_t len) {
    auto n = static_cast<int32_t>(sym.size());
    if (n > 0) sym.back().next = n;
    sym.push_back({id, n - 1, -1, len});
  };
  for (char ch : bytes) {
    int32_t id = byte_ids_[static_cast<uint8_t>(ch)];
    if (id >= 0) {
      if (pending_unk_len) add(unk_id_, pending_unk_len);
      pending_unk_len = 0;
      add(id, 1);
    } else if (unk_id_ >= 0) {
      if (pending_unk_len && !fuse_unk_) add(unk_id_, pending_unk_len), pending_unk_len = 0;
      ++pending_unk_len;
    }  // else: the reference drops a byte that has no token and no unk
  }
  if (pending_unk_len) add(unk_id_, pending_unk_len);

  for (size_t i = 0; i + 1 < sym.size(); ++i)
    if (const auto* m = merges_.find(sym[i].id, sym[i + 1].id))
      heap.push_back({m->rank, static_cast<uint32_t>(i), m->new_id});
  std::make_heap(heap.begin(), heap.end());

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = sym[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    const int32_t right_pos = left.next;
    const Symbol right = sym[right_pos];
    const auto* now = merges_.find(left.id, right.id);
    if (!now || now->new_id != top.new_id) continue;

    left.id = top.new_id;
    left.len += right.len;
    left.next = right.next;
    sym[right_pos].len = 0;
    if (right.next >= 0) sym[right.next].prev = static_cast<int32_t>(top.pos);
    if (left.prev >= 0) {
      if (const auto* m = merges_.find(sym[left.prev].id, left.id)) {
        heap.push_back({m->rank, static_cast<uint32_t>(left.prev), m->new_id});
        std::push_heap(heap.begin(), heap.end());
      }
    }
    if (left.next >= 0) {
      if (const auto* m = merges_.find(left.id, sym[left.next].id)) {
        heap.push_back({m->rank, top.pos, m->new_id});
        std::push_heap(heap.begin(), heap.end());
      }
    }
  }
  for (const Symbol& s : sym)
    if (s.len != 0) out.push_back(s.id);
}

}  // namespace dsvl::tokenizer
