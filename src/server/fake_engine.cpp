#include "server/fake_engine.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace dsvl::server {
namespace {

using nlohmann::json;
constexpr const char* kPlaceholder = "<image_placeholder>";
constexpr int kFirstByteId = 3;  // 0 BOS, 1 EOS, 2 image

Error request_error(const std::string& m) { return Error(ErrorKind::kRequest, m); }

// The image format named by the first bytes, or "" when none of the supported ones.
std::string sniff_format(const std::string& b) {
  auto starts = [&](const char* sig, size_t n, size_t at = 0) {
    return b.size() >= at + n && b.compare(at, n, sig, n) == 0;
  };
  // PNG and JPEG must also be whole: a truncated upload fails as it would in a decoder.
  if (starts("\x89PNG\r\n\x1a\n", 8))
    return b.size() >= 20 && starts("IEND", 4, b.size() - 8) ? "png" : "";
  if (starts("\xff\xd8\xff", 3)) return starts("\xff\xd9", 2, b.size() - 2) ? "jpeg" : "";
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return "gif";
  if (starts("RIFF", 4) && starts("WEBP", 4, 8)) return "webp";
  if (starts("BM", 2) && b.size() > 26) return "bmp";
  return "";
}

std::string image_bytes(const ImageInput& img) {
  if (img.path.empty()) return img.bytes;
  std::ifstream f(img.path, std::ios::binary);
  if (!f) throw Error(ErrorKind::kIo, "cannot open image " + img.path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t count_placeholders(const std::string& s) {
  size_t n = 0;
  for (size_t p = s.find(kPlaceholder); p != std::string::npos; p = s.find(kPlaceholder, p + 1))
    ++n;
  return n;
}

std::string strip_placeholders(std::string s) {
  for (size_t p; (p = s.find(kPlaceholder)) != std::string::npos;)
    s.erase(p, std::string(kPlaceholder).size());
  return s;
}

// A schema-conforming instance (the subset of JSON Schema that response formats use).
json instance_of(const json& schema, int depth) {
  if (depth > 16 || !schema.is_object()) return nullptr;
  if (schema.contains("const")) return schema["const"];
  if (schema.contains("enum") && schema["enum"].is_array() && !schema["enum"].empty())
    return schema["enum"][0];
  for (const char* k : {"anyOf", "oneOf", "allOf"})
    if (schema.contains(k) && schema[k].is_array() && !schema[k].empty())
      return instance_of(schema[k][0], depth + 1);
  std::string type = schema.contains("type") && schema["type"].is_string()
                         ? schema["type"].get<std::string>()
                         : (schema.contains("type") && schema["type"].is_array() &&
                                    !schema["type"].empty() && schema["type"][0].is_string()
                                ? schema["type"][0].get<std::string>()
                                : (schema.contains("properties") ? "object" : "string"));
  if (type == "object") {
    json out = json::object();
    if (schema.contains("properties") && schema["properties"].is_object())
      for (const auto& [key, sub] : schema["properties"].items())
        out[key] = instance_of(sub, depth + 1);
    return out;
  }
  if (type == "array") {
    json out = json::array();
    int n = schema.value("minItems", 1);
    for (int i = 0; i < std::max(n, 1) && i < 8; ++i)
      out.push_back(instance_of(schema.value("items", json::object()), depth + 1));
    return out;
  }
  if (type == "integer") return schema.value("minimum", 1);
  if (type == "number") return schema.value("minimum", 1.5);
  if (type == "boolean") return true;
  if (type == "null") return nullptr;
  return "fake";
}

std::string count_to(int n, size_t max_bytes) {
  std::string out;
  for (int i = 1; i <= n && out.size() <= max_bytes; ++i)
    out += (i > 1 ? " " : "") + std::to_string(i);
  return out;
}

}  // namespace

struct FakeEngine::Job {
  RequestId id = 0;
  std::string output;    // the bytes to emit
  std::string finish;    // "stop" / "length" / "error"
  int extra_tokens = 0;  // generated but not shown (a stop string or stop id)
  SamplingParams sampling;
  Usage usage;
  std::function<void(const Delta&)> on_delta;
  std::function<void(const Result&)> on_done;
  std::atomic<bool> cancelled{false};
  size_t pos = 0;
  std::string held;  // bytes of an incomplete UTF-8 sequence
  Result result;
};

FakeEngine::FakeEngine(FakeEngineOptions opts) : opts_(std::move(opts)) {
  info_.name = opts_.name;
  info_.architecture = "fake";
  info_.ctx = opts_.ctx;
  info_.max_position_embeddings = opts_.ctx;
  info_.vocab_size = 256 + kFirstByteId;
  info_.image_tokens = opts_.image_tokens;
  info_.precision = "f32";
  thread_ = std::thread([this] { run(); });
}

FakeEngine::~FakeEngine() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

int FakeEngine::count_prompt_tokens(const Request& r) {
  int n = 1;  // BOS
  auto add_text = [&](const std::string& s) {
    size_t k = count_placeholders(s);
    n += int(s.size() - k * std::string(kPlaceholder).size()) + int(k) * opts_.image_tokens;
  };
  if (r.raw) {
    add_text(*r.raw);
    return n;
  }
  for (const auto& m : r.messages) {
    n += int(m.role.size()) + 2;  // "User: "
    add_text(m.content);
    if (count_placeholders(m.content) == 0) n += int(m.images.size()) * opts_.image_tokens;
  }
  return n + 11;  // "Assistant: "
}

RequestId FakeEngine::submit(const Request& r, std::function<void(const Delta&)> on_delta,
                             std::function<void(const Result&)> on_done) {
  if (!r.raw && r.messages.empty()) throw request_error("request has no messages");
  // Images: count, signatures, placeholders; then the answer's description of them.
  std::string seen;
  int n_images = 0;
  auto check_images = [&](const std::vector<ImageInput>& images, const std::string& text) {
    size_t k = count_placeholders(text);
    if (k > 0 && k != images.size())
      throw request_error("message has " + std::to_string(k) + " image placeholders but " +
                          std::to_string(images.size()) + " images");
    for (const auto& img : images) {
      ++n_images;
      std::string bytes = image_bytes(img);
      std::string fmt = sniff_format(bytes);
      if (fmt.empty())
        throw request_error("image " + std::to_string(n_images) + " (" + img.name +
                            "): not a PNG, JPEG, GIF, WebP or BMP image");
      seen += std::string(seen.empty() ? "" : ", ") + fmt + " " + std::to_string(bytes.size()) +
              " bytes";
    }
  };
  std::string last_user = r.raw ? *r.raw : "";
  if (r.raw) check_images(r.raw_images, *r.raw);
  for (const auto& m : r.messages) {
    check_images(m.images, m.content);
    if (m.role == "user") last_user = m.content;
  }
  if (n_images > opts_.max_images)
    throw Error(ErrorKind::kLimit, "too many images: " + std::to_string(n_images) + " (at most " +
                                       std::to_string(opts_.max_images) + ")");
  int n_prompt = count_prompt_tokens(r);
  if (n_prompt > opts_.ctx)
    throw Error(ErrorKind::kLimit, "prompt is " + std::to_string(n_prompt) +
                                       " tokens, more than the context of " +
                                       std::to_string(opts_.ctx));

  auto job = std::make_shared<Job>();
  const SamplingParams& s = r.sampling;
  job->sampling = s;
  job->on_delta = std::move(on_delta);
  job->on_done = std::move(on_done);
  job->usage.prompt_tokens = n_prompt;
  job->usage.image_tokens = n_images * opts_.image_tokens;
  std::string text = strip_placeholders(last_user);
  size_t limit = size_t(std::max(0, std::min(s.max_tokens, opts_.ctx - n_prompt)));
  std::string out;
  if (text.find("[[fail]]") != std::string::npos) {
    job->finish = "error";
  } else if (s.response_format == "json_object") {
    out = json{{"answer", text}}.dump();
  } else if (s.response_format == "json_schema") {
    try {
      out = instance_of(json::parse(s.json_schema), 0).dump();
    } catch (const json::exception& e) {
      throw request_error(std::string("json_schema: ") + e.what());
    }
  } else if (auto c = text.find("[[count "); c != std::string::npos) {
    out = count_to(std::atoi(text.c_str() + c + 8), limit + 1);
  } else {
    if (n_images > 0)
      out = "I see " + std::to_string(n_images) + (n_images == 1 ? " image (" : " images (") +
            seen + "). ";
    out += "You said: " + text;
    if (s.temperature > 0)
      out += " Lucky number " + std::to_string(std::mt19937_64(s.seed)() % 1000000) + ".";
  }
  // Where generation ends: the first stop string or stop id, else max_tokens / context.
  size_t cut = out.size();
  job->finish = job->finish.empty() ? "stop" : job->finish;
  for (const auto& stop : s.stop)
    if (auto p = out.find(stop); p != std::string::npos && p < cut && p + stop.size() <= limit) {
      cut = p;
      job->extra_tokens = int(stop.size());
    }
  for (size_t i = 0; i < cut; ++i)
    for (int32_t id : s.stop_ids)
      if (id == int32_t(uint8_t(out[i])) + kFirstByteId && i < limit) {
        cut = i;
        job->extra_tokens = 1;
      }
  if (cut == out.size() && out.size() > limit) {
    cut = limit;
    job->finish = "length";
  }
  job->output = out.substr(0, cut);

  std::lock_guard<std::mutex> lk(mu_);
  job->id = next_id_++;
  by_id_[job->id] = job;
  queue_.push_back(job);
  cv_.notify_all();
  return job->id;
}

void FakeEngine::cancel(RequestId id) {
  std::lock_guard<std::mutex> lk(mu_);
  if (auto it = by_id_.find(id); it != by_id_.end()) it->second->cancelled = true;
  cv_.notify_all();
}

// Emits the next byte as a token; ends the job when all are out (or it was cancelled).
bool FakeEngine::step_job(Job& job) {
  Result& res = job.result;
  bool done = job.cancelled || job.finish == "error" || job.pos >= job.output.size();
  if (done) {
    res.finish_reason = job.cancelled ? "cancelled" : job.finish;
    if (res.finish_reason == "error") {
      res.error = "fake engine failure ([[fail]] in the prompt)";
      res.error_kind = ErrorKind::kInternal;
    }
    res.usage = job.usage;
    res.usage.completion_tokens = int(job.pos) + (job.cancelled ? 0 : job.extra_tokens);
    job.on_done(res);
    return true;
  }
  uint8_t byte = uint8_t(job.output[job.pos++]);
  Delta d;
  d.token = byte + kFirstByteId;
  job.held.push_back(char(byte));
  // Release the held bytes once they form whole UTF-8 characters.
  size_t lead = uint8_t(job.held[0]);
  size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (job.held.size() >= need || job.pos == job.output.size()) {
    d.text = job.held;
    job.held.clear();
  }
  d.logprob = -0.05f - 0.1f * float(byte % 10);
  for (int k = 0; k < job.sampling.top_logprobs; ++k) {
    uint8_t alt = k == 0 ? byte : uint8_t('a' + (byte + k) % 26);
    d.top.push_back({alt + kFirstByteId, std::string(1, char(alt)), d.logprob - 0.5f * float(k)});
  }
  res.text += d.text;
  if (job.sampling.logprobs) res.tokens.push_back(d);
  if (job.on_delta) job.on_delta(d);
  return false;
}

void FakeEngine::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !active_.empty(); });
    if (stopping_) {
      // Whoever waits on a request learns that it ended.
      for (auto& j : queue_) active_.push_back(j);
      queue_.clear();
      for (auto& j : active_) j->cancelled = true;
    }
    while (!queue_.empty() && int(active_.size()) < opts_.parallel) {
      active_.push_back(queue_.front());
      queue_.pop_front();
    }
    // Queued requests that were cancelled end now, without waiting for a slot.
    std::vector<std::shared_ptr<Job>> batch = active_;
    for (auto& j : queue_)
      if (j->cancelled) batch.push_back(j);
    lk.unlock();  // callbacks may call cancel()
    std::vector<RequestId> finished;
    for (auto& j : batch)
      if (step_job(*j)) finished.push_back(j->id);
    if (opts_.token_delay_us > 0 && !batch.empty())
      std::this_thread::sleep_for(std::chrono::microseconds(opts_.token_delay_us));
    lk.lock();
    for (RequestId id : finished) {
      by_id_.erase(id);
      std::erase_if(active_, [&](const auto& j) { return j->id == id; });
      std::erase_if(queue_, [&](const auto& j) { return j->id == id; });
    }
    if (stopping_ && active_.empty() && queue_.empty()) return;
  }
}

std::vector<int32_t> FakeEngine::tokenize(const std::string& text, bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special) ids.push_back(0);
  for (unsigned char c : text) ids.push_back(int32_t(c) + kFirstByteId);
  return ids;
}

std::string FakeEngine::detokenize(const std::vector<int32_t>& ids, bool skip_special) const {
  static const char* kSpecial[] = {"<s>", "</s>", "<image_placeholder>"};
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= info_.vocab_size)
      throw request_error("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                          std::to_string(info_.vocab_size) + ")");
    if (id < kFirstByteId) {
      if (!skip_special) out += kSpecial[id];
    } else {
      out.push_back(char(id - kFirstByteId));
    }
  }
  return out;
}

Engine::Stats FakeEngine::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s;
  s.queued = int(queue_.size());
  s.running = int(active_.size());
  s.slots = opts_.parallel;
  return s;
}

}  // namespace dsvl::server
