// dsvl chat: an interactive multi-turn conversation, like the official cli_chat.py.
//   /image PATH   attach an image to the next message (or write <image:PATH> in the text)
//   new, /clear   start over          exit, /exit   quit          Ctrl-C stops an answer
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "cli/command.h"
#include "cli/generation_flags.h"
#include "core/error.h"
#include "dsvl/dsvl.h"

namespace dsvl::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Pulls "<image:PATH>" markers out of the text into `images`, leaving <image> in their place.
std::string take_inline_images(std::string text, std::vector<ImageInput>* images) {
  for (size_t p = text.find("<image:"); p != std::string::npos; p = text.find("<image:", p)) {
    const size_t e = text.find('>', p);
    if (e == std::string::npos) break;
    const std::string path = trim(text.substr(p + 7, e - p - 7));
    images->push_back(ImageInput{path, "", path});
    text.replace(p, e - p + 1, "<image>");
  }
  return text;
}

int chat(const std::vector<std::string>& argv) {
  auto flags = generation_value_flags();
  flags.push_back("--system");
  Args a(argv, flags, {"--help"}, {{"-m", "--model"}, {"-t", "--threads"}});
  if (a.has("--help")) {
    std::printf(
        "usage: dsvl chat -m MODEL_DIR [--system TEXT] [sampling flags as in dsvl run]\n"
        "In the chat: /image PATH attaches an image (or write <image:PATH> in the text),\n"
        "`new` or /clear starts over, `exit` quits, Ctrl-C stops the current answer.\n");
    return 0;
  }
  LoadParams lp = parse_load(a);
  lp.progress = true;
  SamplingParams sampling = parse_sampling(a);
  auto engine = Engine::load(lp);
  const bool tty = isatty(0);

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);

  std::vector<Message> history;
  if (auto sys = a.get("--system")) history.push_back({"system", *sys, {}});
  const size_t base = history.size();
  std::vector<ImageInput> pending;
  std::printf(
      "dsvl chat: %s (%s, context %d). Type /image PATH to add an image, `new` to reset, `exit` to "
      "quit.\n",
      engine->info().name.c_str(), engine->info().architecture.c_str(), engine->info().ctx);
  for (;;) {
    if (tty || true) std::printf("\nUser: "), std::fflush(stdout);
    std::string line;
    g_interrupted = false;
    if (!std::getline(std::cin, line)) break;
    line = trim(line);
    if (line.empty()) continue;
    if (line == "exit" || line == "/exit" || line == "quit") break;
    if (line == "new" || line == "/clear") {
      history.resize(base);
      pending.clear();
      std::printf("(conversation cleared)\n");
      continue;
    }
    if (line.rfind("/image ", 0) == 0) {
      const std::string path = trim(line.substr(7));
      if (access(path.c_str(), R_OK) != 0) {
        std::printf("(cannot read %s)\n", path.c_str());
        continue;
      }
      pending.push_back(ImageInput{path, "", path});
      std::printf("(image %zu attached: %s)\n", pending.size(), path.c_str());
      continue;
    }
    std::vector<ImageInput> images = pending;
    const std::string text = take_inline_images(line, &images);
    history.push_back({"user", text, images});

    Request req;
    req.messages = history;
    req.sampling = sampling;
    // Drop the oldest turns while the conversation does not fit (as the official demo does).
    int dropped = 0;
    for (;;) {
      try {
        engine->count_prompt_tokens(req);
        break;
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kLimit || req.messages.size() <= base + 1) {
          std::printf("(error: %s)\n", e.what());
          history.pop_back();
          req.messages.clear();
          break;
        }
        // Remove the oldest user turn and the assistant answer after it.
        req.messages.erase(req.messages.begin() + ptrdiff_t(base));
        if (req.messages.size() > base + 1 && req.messages[base].role == "assistant")
          req.messages.erase(req.messages.begin() + ptrdiff_t(base));
        ++dropped;
      }
    }
    if (req.messages.empty()) continue;
    if (dropped) {
      history = req.messages;
      std::printf("(the conversation outgrew the context: dropped the %d oldest turn(s))\n",
                  dropped);
    }
    pending.clear();

    std::printf("\nAssistant: ");
    std::fflush(stdout);
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Result result;
    RequestId id = 0;
    try {
      id = engine->submit(
          req,
          [](const Delta& d) {
            std::fwrite(d.text.data(), 1, d.text.size(), stdout);
            std::fflush(stdout);
          },
          [&](const Result& r) {
            std::lock_guard<std::mutex> lk(mu);
            result = r;
            done = true;
            cv.notify_all();
          });
    } catch (const Error& e) {
      std::printf("(error: %s)\n", e.what());
      history.pop_back();
      continue;
    }
    {
      std::unique_lock<std::mutex> lk(mu);
      while (!done) {
        cv.wait_for(lk, std::chrono::milliseconds(50));
        if (g_interrupted.exchange(false)) engine->cancel(id);
      }
    }
    if (result.finish_reason == "cancelled") std::printf(" (stopped)");
    if (result.finish_reason == "error") {
      std::printf("(error: %s)\n", result.error.c_str());
      history.pop_back();
      continue;
    }
    std::printf("\n");
    history.push_back({"assistant", result.text, {}});
  }
  std::printf("\n");
  return 0;
}

Registration reg({"chat", "interactive multi-turn chat with images", chat});

}  // namespace
}  // namespace dsvl::cli
