#include "runtime/json_schema.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsvl::runtime::json {
namespace {

using nlohmann::json;
constexpr int kMaxDepth = 24;          // schema nesting (the acceptor's stack is bounded)
constexpr size_t kMaxNodes = 4096;     // compiled nodes per schema
constexpr size_t kMaxKeys = 64;        // properties per object (a 64-bit "used" mask)
constexpr int64_t kMaxMinimum = 4096;  // minItems / minLength: the output must stay short

[[noreturn]] void unsupported(const std::string& path, const std::string& what) {
  throw RequestError("response_format json_schema" + (path.empty() ? "" : " at " + path) + ": " +
                     what);
}

std::bitset<256> byte_set(std::initializer_list<char> cs) {
  std::bitset<256> s;
  for (char c : cs) s.set(uint8_t(c));
  return s;
}

const std::bitset<256> kNumberFirst =
    byte_set({'-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'});

class Compiler {
 public:
  Grammar g;

  int compile(const json& s, const std::string& path, int depth) {
    if (depth > kMaxDepth) unsupported(path, "nested deeper than 24 levels");
    if (s.is_boolean()) {
      if (!s.get<bool>()) unsupported(path, "the schema false matches nothing");
      return any();
    }
    if (!s.is_object()) unsupported(path, "a schema must be an object");
    for (const char* kw : {"$ref", "prefixItems", "patternProperties", "not", "if", "then", "else",
                           "dependentSchemas", "dependentRequired", "unevaluatedProperties",
                           "unevaluatedItems", "additionalItems", "contains", "propertyNames"})
      if (s.contains(kw)) unsupported(path, std::string(kw) + " is not supported");
    if (s.contains("const")) return literals({s["const"]});
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) unsupported(path + ".enum", "must be a non-empty array");
      return literals(std::vector<json>(e.begin(), e.end()));
    }
    for (const char* kw : {"anyOf", "oneOf"})
      if (s.contains(kw)) {
        const json& a = s[kw];
        if (!a.is_array() || a.empty()) unsupported(path + "." + kw, "must be a non-empty array");
        std::vector<int> alts;
        for (size_t i = 0; i < a.size(); ++i)
          alts.push_back(compile(a[i], path + "." + kw + "[" + std::to_string(i) + "]", depth + 1));
        return union_of(alts, path + "." + kw);
      }
    if (s.contains("allOf")) {
      const json& a = s["allOf"];
      if (!a.is_array() || a.size() != 1)
        unsupported(path + ".allOf", "only one entry is supported");
      return compile(a[0], path + ".allOf[0]", depth + 1);
    }
    if (!s.contains("type")) {
      if (s.contains("properties")) return typed("object", s, path, depth);
      if (s.contains("items")) return typed("array", s, path, depth);
      return any();
    }
    const json& t = s["type"];
    if (t.is_string()) return typed(t.get<std::string>(), s, path, depth);
    if (!t.is_array() || t.empty())
      unsupported(path + ".type", "must be a name or a list of names");
    std::vector<int> alts;
    for (const json& name : t) {
      if (!name.is_string()) unsupported(path + ".type", "must be a name or a list of names");
      alts.push_back(typed(name.get<std::string>(), s, path, depth));
    }
    return union_of(alts, path + ".type");
  }

 private:
  int add(Node n) {
    if (g.nodes.size() >= kMaxNodes) unsupported("", "the schema is too large");
    g.nodes.push_back(std::move(n));
    return int(g.nodes.size() - 1);
  }

  // Any JSON value: a union of a free object, a free array, a string, a number and the three
  // words. Built once per grammar; the containers refer back to it.
  int any() {
    if (any_ >= 0) return any_;
    const int base = int(g.nodes.size());
    any_ = base;
    Node u;
    u.kind = Kind::kUnion;
    u.alts = {base + 1, base + 2, base + 3, base + 4, base + 5};
    Node obj;
    obj.kind = Kind::kObject;
    obj.free = obj.free_keys = true;
    obj.first = byte_set({'{'});
    obj.min_bytes = 2;
    obj.key_nodes = {base};  // the value of every key
    Node arr;
    arr.kind = Kind::kArray;
    arr.free = true;
    arr.items = base;
    arr.first = byte_set({'['});
    arr.min_bytes = 2;
    Node str;
    str.kind = Kind::kString;
    str.first = byte_set({'"'});
    str.min_bytes = 2;
    Node num;
    num.kind = Kind::kNumber;
    num.first = kNumberFirst;
    num.min_bytes = 1;
    Node words;
    words.kind = Kind::kLiterals;
    words.literals = {"false", "null", "true"};
    words.first = byte_set({'f', 'n', 't'});
    words.min_bytes = 4;
    for (Node* n : {&obj, &arr, &str, &num, &words}) u.first |= n->first;
    u.min_bytes = 1;
    for (Node* n : {&u, &obj, &arr, &str, &num, &words}) add(std::move(*n));
    return any_;
  }

  int literals(const std::vector<json>& values) {
    Node n;
    n.kind = Kind::kLiterals;
    for (const json& v : values) n.literals.push_back(v.dump());
    std::sort(n.literals.begin(), n.literals.end());
    n.literals.erase(std::unique(n.literals.begin(), n.literals.end()), n.literals.end());
    n.min_bytes = INT64_MAX;
    for (const std::string& l : n.literals) {
      n.first.set(uint8_t(l[0]));
      n.min_bytes = std::min<int64_t>(n.min_bytes, int64_t(l.size()));
    }
    return add(std::move(n));
  }

  int union_of(std::vector<int> alts, const std::string& path) {
    // Flatten nested unions; a number alternative covers an integer one.
    std::vector<int> flat;
    for (int a : alts) {
      if (g.nodes[size_t(a)].kind == Kind::kUnion)
        for (int b : g.nodes[size_t(a)].alts) flat.push_back(b);
      else
        flat.push_back(a);
    }
    const bool has_number = std::any_of(
        flat.begin(), flat.end(), [&](int a) { return g.nodes[size_t(a)].kind == Kind::kNumber; });
    if (has_number)
      std::erase_if(flat, [&](int a) { return g.nodes[size_t(a)].kind == Kind::kInteger; });
    if (flat.size() == 1) return flat[0];
    Node u;
    u.kind = Kind::kUnion;
    u.min_bytes = INT64_MAX;
    for (int a : flat) {
      const Node& n = g.nodes[size_t(a)];
      if ((u.first & n.first).any())
        unsupported(path, "alternatives that start with the same character are not supported");
      u.first |= n.first;
      u.min_bytes = std::min(u.min_bytes, n.min_bytes);
    }
    u.alts = std::move(flat);
    return add(std::move(u));
  }

  static int64_t count_field(const json& s, const char* key, const std::string& path) {
    if (!s.contains(key)) return -1;
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      unsupported(path + "." + key, "must be a non-negative integer");
    return v.get<int64_t>();
  }

  int typed(const std::string& type, const json& s, const std::string& path, int depth) {
    Node n;
    if (type == "object") return object(s, path, depth);
    if (type == "array") {
      n.kind = Kind::kArray;
      n.items = s.contains("items") ? compile(s["items"], path + ".items", depth + 1) : any();
      n.min_items = std::max<int64_t>(0, count_field(s, "minItems", path));
      n.max_items = count_field(s, "maxItems", path);
      if (n.min_items > kMaxMinimum) unsupported(path + ".minItems", "is too large");
      if (n.max_items >= 0 && n.max_items < n.min_items)
        unsupported(path, "maxItems is below minItems");
      n.first = byte_set({'['});
      const int64_t iv = g.nodes[size_t(n.items)].min_bytes;
      n.min_bytes = 2 + n.min_items * iv + std::max<int64_t>(0, n.min_items - 1);
    } else if (type == "string") {
      n.kind = Kind::kString;
      n.min_length = std::max<int64_t>(0, count_field(s, "minLength", path));
      n.max_length = count_field(s, "maxLength", path);
      if (n.min_length > kMaxMinimum) unsupported(path + ".minLength", "is too large");
      if (n.max_length >= 0 && n.max_length < n.min_length)
        unsupported(path, "maxLength is below minLength");
      n.first = byte_set({'"'});
      n.min_bytes = 2 + n.min_length;
    } else if (type == "number" || type == "integer") {
      n.kind = type == "number" ? Kind::kNumber : Kind::kInteger;
      n.first = kNumberFirst;
      n.min_bytes = 1;
    } else if (type == "boolean") {
      return literals({json(false), json(true)});
    } else if (type == "null") {
      return literals({json(nullptr)});
    } else {
      unsupported(path + ".type", "unknown type \"" + type + "\"");
    }
    return add(std::move(n));
  }

  int object(const json& s, const std::string& path, int depth) {
    if (!s.contains("properties")) {
      if (s.contains("required") && !s["required"].empty())
        unsupported(path + ".required", "needs \"properties\"");
      any();
      return any_ + 1;  // the free object
    }
    const json& props = s["properties"];
    if (!props.is_object()) unsupported(path + ".properties", "must be an object");
    if (props.size() > kMaxKeys) unsupported(path + ".properties", "more than 64 properties");
    struct Prop {
      std::string key, name;
      int node;
    };
    std::vector<Prop> list;
    for (const auto& [name, sub] : props.items()) {
      std::string quoted = json(name).dump();
      list.push_back({quoted.substr(1, quoted.size() - 2), name,
                      compile(sub, path + ".properties." + name, depth + 1)});
    }
    std::sort(list.begin(), list.end(), [](const Prop& a, const Prop& b) { return a.key < b.key; });
    Node n;
    n.kind = Kind::kObject;
    n.first = byte_set({'{'});
    for (const Prop& p : list) {
      n.keys.push_back(p.key);
      n.key_nodes.push_back(p.node);
      n.item_bytes.push_back(int64_t(p.key.size()) + 3 + g.nodes[size_t(p.node)].min_bytes);
    }
    int64_t n_required = 0, required_bytes = 0;
    if (s.contains("required")) {
      const json& req = s["required"];
      if (!req.is_array()) unsupported(path + ".required", "must be an array of names");
      for (const json& r : req) {
        auto it = r.is_string() ? std::find_if(list.begin(), list.end(),
                                               [&](const Prop& p) { return p.name == r; })
                                : list.end();
        if (it == list.end())
          unsupported(path + ".required", "names " + r.dump() + ", which is not in properties");
        const size_t i = size_t(it - list.begin());
        if (!(n.required >> i & 1)) {
          n.required |= uint64_t(1) << i;
          ++n_required;
          required_bytes += n.item_bytes[i];
        }
      }
    }
    n.min_bytes = 2 + required_bytes + std::max<int64_t>(0, n_required - 1);
    return add(std::move(n));
  }

  int any_ = -1;
};

}  // namespace

std::shared_ptr<const Grammar> object_grammar() {
  static const std::shared_ptr<const Grammar> g = [] {
    Compiler c;
    c.g.root = c.compile(json::parse(R"({"type": "object"})"), "", 0);
    return std::make_shared<const Grammar>(std::move(c.g));
  }();
  return g;
}

std::shared_ptr<const Grammar> schema_grammar(const std::string& schema_json) {
  json s = json::parse(schema_json, nullptr, /*allow_exceptions=*/false);
  if (s.is_discarded()) throw RequestError("response_format json_schema: the schema is not JSON");
  Compiler c;
  c.g.root = c.compile(s, "", 0);
  return std::make_shared<const Grammar>(std::move(c.g));
}

}  // namespace dsvl::runtime::json
