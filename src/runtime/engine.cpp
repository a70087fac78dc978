// The Engine behind dsvl.h: one scheduler thread owns the model's compute. Requests are
// validated and their images decoded on the caller's thread (errors are thrown there), then
// queued. The scheduler admits queued requests into free slots (image encode through the
// embedding cache, then prefill) and runs one batched decode step for every active slot,
// so concurrent requests share each read of the weights (continuous batching). Prefill
// starts from the longest cached prefix (prefix_cache.h); response formats constrain the
// sampler with a JSON grammar (json_constraint.h).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/threadpool.h"
#include "dsvl/dsvl.h"
#include "io/model_keys.h"
#include "runtime/batch.h"
#include "runtime/generate.h"
#include "runtime/image_cache.h"
#include "runtime/json_constraint.h"
#include "runtime/pipeline.h"
#include "runtime/prefix_cache.h"
#include "runtime/request_prep.h"
#include "runtime/stop_strings.h"

namespace dsvl {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Job {
  RequestId id = 0;
  runtime::PreparedRequest prep;
  SamplingParams sampling;
  std::shared_ptr<const runtime::json::Grammar> grammar;  // response_format, or null
  std::function<void(const Delta&)> on_delta;
  std::function<void(const Result&)> on_done;
  Clock::time_point queued_at;

  // Running state (scheduler thread only).
  Tensor embeds;
  std::vector<uint64_t> keys;  // prefix-cache keys of the prompt positions
  std::unique_ptr<runtime::Sequence> seq;
  std::unique_ptr<tokenizer::StreamDecoder> detok;
  std::unique_ptr<runtime::StopMatcher> stops;
  bool stopped_by_string = false;
  Result result;
  Clock::time_point decode_start;
};

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(const LoadParams& p)
      : params_(p), cache_(p.image_cache_bytes), prefix_cache_(p.prefix_cache_tokens) {
    if (p.n_threads > 0) set_num_threads(p.n_threads);
    if (p.parallel < 1 || p.parallel > 256) throw RequestError("parallel must be in [1, 256]");
    const auto t0 = Clock::now();
    if (p.progress)
      std::fprintf(stderr, "loading %s ...", p.model_dir.c_str()), std::fflush(stderr);
    // The context first (config.json only), so that nothing is sized past it.
    ctx_ = runtime::resolve_context(io::load_model_config(p.model_dir).llm, p.ctx);
    runtime::PipelineOptions po;
    po.max_positions = ctx_;
    po.decode_limits.max_pixels = p.max_image_pixels;
    po.precision = p.precision;
    po.no_mmap = p.no_mmap;
    po.no_repack = p.no_repack;
    pipe_ = runtime::Pipeline::load(p.model_dir, po);
    pipe_->tokenizer();  // a model without a tokenizer cannot chat: fail at load
    load_ms_ = ms_since(t0);
    if (p.progress) std::fprintf(stderr, " done (%.2f s)\n", load_ms_ / 1000.0);
    const auto& cfg = pipe_->config();
    info_.name = p.model_dir;
    while (info_.name.size() > 1 && info_.name.back() == '/') info_.name.pop_back();
    info_.name = info_.name.substr(info_.name.find_last_of('/') + 1);
    info_.architecture = cfg.is_hybrid() ? "hybrid" : "siglip";
    info_.n_params = io::count_params(io::model_keys(cfg)).total();
    info_.ctx = int(ctx_);
    info_.max_position_embeddings = cfg.llm.max_position_embeddings;
    info_.vocab_size = cfg.llm.vocab_size;
    info_.image_tokens = pipe_->image_tokens();
    info_.precision = kernels::precision_name(pipe_->precision());
    decoder_ = std::make_unique<runtime::BatchDecoder>(pipe_->llm(), p.parallel, ctx_);
    thread_ = std::thread([this] { loop(); });
  }

  ~EngineImpl() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  const ModelInfo& info() const override { return info_; }
  bool ready() const override { return true; }

  RequestId submit(const Request& r, std::function<void(const Delta&)> on_delta,
                   std::function<void(const Result&)> on_done) override {
    validate(r.sampling);
    auto job = std::make_unique<Job>();
    job->grammar = grammar_for(r.sampling);
    job->prep = runtime::prepare_request(*pipe_, r, params_, ctx_);
    if (job->grammar) {
      // The grammar ends the answer; the template's "User:" must not cut a JSON string.
      job->prep.stop.clear();
      for (auto& st : r.sampling.stop)
        if (!st.empty()) job->prep.stop.push_back(st);
    }
    job->sampling = r.sampling;
    job->on_delta = std::move(on_delta);
    job->on_done = std::move(on_done);
    job->queued_at = Clock::now();
    std::lock_guard<std::mutex> lk(mu_);
    job->id = ++next_id_;
    const RequestId id = job->id;
    queue_.push_back(std::move(job));
    cv_.notify_all();
    return id;
  }

  void cancel(RequestId id) override {
    std::lock_guard<std::mutex> lk(mu_);
    cancelled_.push_back(id);
    cv_.notify_all();
  }

  int count_prompt_tokens(const Request& r) override {
    return int(runtime::prepare_request(*pipe_, r, params_, ctx_, /*count_only=*/true).ids.size());
  }

  std::vector<int32_t> tokenize(const std::string& text, bool add_special) const override {
    return pipe_->tokenizer().encode(text, add_special);
  }
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special) const override {
    return pipe_->tokenizer().decode(ids, skip_special);
  }

  Stats stats() const override {
    std::lock_guard<std::mutex> lk(mu_);
    Stats s = stats_;
    s.queued = int(queue_.size());
    s.running = running_;
    s.slots = params_.parallel;
    return s;
  }

 private:
  void validate(const SamplingParams& s) const {
    if (s.max_tokens < 0) throw RequestError("max_tokens must be ≥ 0");
    if (params_.max_tokens_cap > 0 && s.max_tokens > params_.max_tokens_cap)
      throw LimitError("max_tokens " + std::to_string(s.max_tokens) + " exceeds the cap of " +
                       std::to_string(params_.max_tokens_cap) + " new tokens per request");
    if (s.top_logprobs < 0 || s.top_logprobs > 20)
      throw RequestError("top_logprobs must be in [0, 20]");
    if (!s.response_format.empty() && s.response_format != "text" &&
        s.response_format != "json_object" && s.response_format != "json_schema")
      throw RequestError("response_format must be text, json_object or json_schema, got \"" +
                         s.response_format + "\"");
  }

  // The compiled grammar of a response format (RequestError for a bad schema), or null.
  std::shared_ptr<const runtime::json::Grammar> grammar_for(const SamplingParams& s) {
    const bool schema =
        s.response_format == "json_schema" || (s.response_format.empty() && !s.json_schema.empty());
    if (schema && s.json_schema.empty())
      throw RequestError("response_format json_schema needs a schema");
    if (!schema && s.response_format != "json_object") return nullptr;
    std::call_once(vocab_once_, [this] {
      vocab_bytes_ = std::make_shared<const runtime::TokenBytes>(pipe_->tokenizer(),
                                                                 pipe_->config().llm.vocab_size);
    });
    return schema ? runtime::json::schema_grammar(s.json_schema) : runtime::json::object_grammar();
  }

  runtime::GenerateParams generate_params(const Job& j) const {
    runtime::GenerateParams g;
    const SamplingParams& s = j.sampling;
    g.max_new_tokens = s.max_tokens;
    g.sampling.do_sample = s.temperature > 0;
    g.sampling.temperature = s.temperature;
    g.sampling.top_k = s.top_k;
    g.sampling.top_p = s.top_p;
    g.sampling.min_p = s.min_p;
    g.sampling.repetition_penalty = s.repetition_penalty;
    g.sampling.presence_penalty = s.presence_penalty;
    g.sampling.frequency_penalty = s.frequency_penalty;
    g.sampling.seed = s.seed;
    g.eos_token_id = pipe_->eos_id();
    g.stop_token_ids = s.stop_ids;
    g.top_logprobs = s.top_logprobs;
    g.n_ctx = ctx_;
    if (j.grammar)
      g.constraint =
          std::make_shared<runtime::JsonConstraint>(j.grammar, vocab_bytes_, pipe_->eos_id());
    return g;
  }

  // Scheduler thread: everything below runs there.
  void loop() {
    std::vector<std::unique_ptr<Job>> active;
    for (;;) {
      std::vector<std::unique_ptr<Job>> admit, dropped;
      std::vector<RequestId> cancels;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(
            lk, [&] { return quit_ || !queue_.empty() || !active.empty() || !cancelled_.empty(); });
        if (quit_) break;
        cancels.swap(cancelled_);
        for (RequestId id : cancels)
          for (auto it = queue_.begin(); it != queue_.end(); ++it)
            if ((*it)->id == id) {
              dropped.push_back(std::move(*it));
              queue_.erase(it);
              break;
            }
        while (!queue_.empty() && int(active.size() + admit.size()) < params_.parallel) {
          admit.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        running_ = int(active.size() + admit.size());
      }
      for (auto& j : dropped)
        finish(*j, "cancelled");  // outside the lock: callbacks may call cancel()
      for (RequestId id : cancels)
        for (auto& j : active)
          if (j->id == id && !j->seq->done()) j->result.finish_reason = "cancelled";
      for (auto& j : admit) {
        try {
          start(*j);
          active.push_back(std::move(j));
        } catch (const Error& e) {
          fail(*j, e);
        } catch (const std::exception& e) {
          fail(*j, Error(ErrorKind::kInternal, e.what()));
        }
      }
      std::vector<runtime::Sequence*> seqs;
      for (auto& j : active)
        if (!j->seq->done() && j->result.finish_reason != "cancelled") seqs.push_back(j->seq.get());
      if (!seqs.empty()) {
        try {
          decoder_->step(seqs);
        } catch (const std::exception& e) {
          for (auto& j : active) fail(*j, Error(ErrorKind::kInternal, e.what()));
          active.clear();
        }
      }
      for (auto it = active.begin(); it != active.end();) {
        Job& j = **it;
        if (j.seq->done() || j.result.finish_reason == "cancelled") {
          complete(j);
          it = active.erase(it);
        } else {
          ++it;
        }
      }
    }
    std::deque<std::unique_ptr<Job>> rest;
    {
      std::lock_guard<std::mutex> lk(mu_);
      rest.swap(queue_);
    }
    for (auto& j : rest) finish(*j, "cancelled");
    for (auto& j : active) finish(*j, "cancelled");
  }

  // The embeddings of the request's images [n, 576, hidden], through the cache; images that
  // lie wholly in the first `reused` positions (taken from the prefix cache) are skipped.
  Tensor image_embeddings(Job& j, int64_t reused) {
    const int64_t D = pipe_->config().llm.hidden_size, per = pipe_->image_tokens();
    const int64_t n = j.prep.n_images;
    Tensor image_embeds({n, per, D});
    std::vector<int64_t> starts;  // first position of each image
    const int64_t n_ids = int64_t(j.prep.ids.size());
    for (int64_t p = 0; p < n_ids && int64_t(starts.size()) < n; ++p)
      if (j.prep.ids[size_t(p)] == pipe_->image_token_id()) {
        starts.push_back(p);
        p += per - 1;
      }
    std::vector<runtime::PreparedImage> todo;
    std::vector<std::vector<int64_t>> todo_index;  // the request's images each encoding fills
    std::unordered_map<uint64_t, size_t> todo_of;  // hash → todo: a repeated image once
    for (int64_t i = 0; i < n; ++i) {
      if (size_t(i) < starts.size() && starts[size_t(i)] + per <= reused) continue;
      const uint64_t hash = j.prep.image_hashes[size_t(i)];
      const Tensor* hit = cache_.find(hash);
      const auto pending = todo_of.find(hash);
      const bool encode = !hit && pending == todo_of.end();
      if (hit) {
        std::copy(hit->data.begin(), hit->data.end(), image_embeds.data.begin() + i * per * D);
      } else if (!encode) {
        todo_index[pending->second].push_back(i);
      } else {
        todo_of.emplace(hash, todo.size());
        todo.push_back(pipe_->prepare(j.prep.images[size_t(i)]));
        todo_index.push_back({i});
      }
      std::lock_guard<std::mutex> lk(mu_);
      ++(encode ? stats_.image_cache_misses : stats_.image_cache_hits);
    }
    if (!todo.empty()) {
      std::vector<const runtime::PreparedImage*> ptrs;
      for (auto& t : todo) ptrs.push_back(&t);
      Tensor emb = pipe_->encode_images(ptrs);
      for (size_t k = 0; k < todo.size(); ++k) {
        auto b = emb.data.begin() + int64_t(k) * per * D;
        for (const int64_t i : todo_index[k])
          std::copy(b, b + per * D, image_embeds.data.begin() + i * per * D);
        Tensor one({per, D});
        std::copy(b, b + per * D, one.data.begin());
        cache_.put(j.prep.image_hashes[size_t(todo_index[k][0])], std::move(one));
      }
    }
    return image_embeds;
  }

  void start(Job& j) {
    const auto t0 = Clock::now();
    const int64_t n = j.prep.n_images, n_prompt = int64_t(j.prep.ids.size());
    const int32_t image_id = n > 0 ? pipe_->image_token_id() : -1;
    j.keys = runtime::prefix_keys(j.prep.ids, image_id, j.prep.image_hashes, pipe_->image_tokens());
    // At least the last prompt position is computed: its logits give the first token.
    const runtime::PrefixCache::Hit hit =
        params_.prefix_cache_tokens > 0 ? prefix_cache_.find(j.keys) : runtime::PrefixCache::Hit{};
    const int64_t reused = std::min(hit.n, n_prompt - 1);
    Tensor image_embeds = image_embeddings(j, reused);
    j.prep.images.clear();  // decoded pixels are no longer needed
    j.result.timings.image_encode_ms = ms_since(t0);
    j.result.timings.load_ms = load_ms_;
    j.result.usage.image_tokens = int(n * pipe_->image_tokens());
    j.result.usage.prompt_tokens = int(n_prompt);

    j.embeds = pipe_->llm().prepare_inputs_embeds(j.prep.ids.data(), n_prompt, image_id,
                                                  image_embeds.ptr(), n);
    runtime::Prompt prompt{j.embeds.ptr(), n_prompt, n};
    j.detok = std::make_unique<tokenizer::StreamDecoder>(pipe_->tokenizer(), true);
    j.stops = std::make_unique<runtime::StopMatcher>(j.prep.stop);
    j.seq = std::make_unique<runtime::Sequence>(
        pipe_->llm(), prompt, generate_params(j),
        [this, &j](const runtime::TokenEvent& e) { return on_token(j, e); });
    const auto t1 = Clock::now();
    if (!j.seq->done()) {
      if (reused > 0) {
        j.seq->reuse_prefix(*hit.kv, reused);
        j.result.usage.cached_prompt_tokens = int(reused);
        std::lock_guard<std::mutex> lk(mu_);
        stats_.prefix_cache_hit_tokens += reused;
      }
      runtime::Sequence* one = j.seq.get();
      decoder_->prefill(std::span<runtime::Sequence* const>(&one, 1));
    }
    j.result.timings.prefill_ms = ms_since(t1);
    j.result.timings.prefill_tokens = int(n_prompt - j.result.usage.cached_prompt_tokens);
    j.decode_start = Clock::now();
  }

  // Offers a finished sequence's cache (prompt + the answer tokens fed back) for later turns.
  void remember_prefix(Job& j) {
    if (params_.prefix_cache_tokens <= 0 || !j.seq) return;
    runtime::KvCache& kv = j.seq->kv();
    const auto& toks = j.seq->result().tokens;
    std::vector<uint64_t> keys = j.keys;
    for (size_t i = 0; int64_t(keys.size()) < kv.size() && i < toks.size(); ++i)
      keys.push_back(uint64_t(uint32_t(toks[i])));
    keys.resize(size_t(std::min<int64_t>(int64_t(keys.size()), kv.size())));
    prefix_cache_.put(keys, kv, pipe_->config().llm);
  }

  bool on_token(Job& j, const runtime::TokenEvent& e) {
    if (j.result.finish_reason == "cancelled") return false;
    Delta d;
    d.token = e.token;
    d.logprob = e.logprob;
    if (j.sampling.top_logprobs > 0)
      for (auto& t : e.top_logprobs)
        d.top.push_back({t.token, pipe_->tokenizer().decode({t.token}, false), t.logprob});
    bool go_on = true;
    if (!e.is_stop) {
      const std::string piece = j.detok->push(e.token);
      auto [emit, hit] = j.stops->push(piece);
      d.text = std::move(emit);
      if (hit) {
        j.stopped_by_string = true;
        go_on = false;
      }
    }
    j.result.text += d.text;
    j.result.usage.completion_tokens++;
    if (j.sampling.logprobs) j.result.tokens.push_back(d);
    if (j.on_delta) j.on_delta(d);
    return go_on;
  }

  void complete(Job& j) {
    j.result.timings.decode_ms = ms_since(j.decode_start);
    j.result.timings.decode_tokens = j.result.usage.completion_tokens;
    if (j.result.finish_reason != "cancelled") {
      const auto reason = j.seq->result().stop_reason;
      if (!j.stopped_by_string) {
        // Flush text held back for stop strings and unfinished UTF-8.
        std::string tail = j.stops->finish(j.detok->finish());
        if (!tail.empty()) {
          j.result.text += tail;
          Delta d;
          d.text = std::move(tail);
          if (j.on_delta) j.on_delta(d);
        }
      }
      j.result.finish_reason = reason == runtime::StopReason::kMaxTokens ? "length" : "stop";
    }
    remember_prefix(j);
    finish_unlocked(j, j.result.finish_reason);
  }

  void fail(Job& j, const Error& e) {
    j.result.finish_reason = "error";
    j.result.error = e.what();
    j.result.error_kind = e.kind();
    finish_unlocked(j, "error");
  }

  void finish(Job& j, const std::string& reason) {  // never with mu_ held
    j.result.finish_reason = reason;
    if (j.on_done) j.on_done(j.result);
  }

  void finish_unlocked(Job& j, const std::string& reason) {
    j.result.finish_reason = reason;
    if (j.on_done) j.on_done(j.result);
    std::lock_guard<std::mutex> lk(mu_);
    running_ = std::max(0, running_ - 1);
  }

  LoadParams params_;
  std::unique_ptr<runtime::Pipeline> pipe_;
  int64_t ctx_ = 0;
  double load_ms_ = 0;
  ModelInfo info_;
  runtime::ImageCache cache_;
  runtime::PrefixCache prefix_cache_;
  std::unique_ptr<runtime::BatchDecoder> decoder_;
  std::once_flag vocab_once_;
  std::shared_ptr<const runtime::TokenBytes> vocab_bytes_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::vector<RequestId> cancelled_;
  RequestId next_id_ = 0;
  int running_ = 0;
  Stats stats_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Engine> Engine::load(const LoadParams& params) {
  return std::make_unique<EngineImpl>(params);
}

}  // namespace dsvl
