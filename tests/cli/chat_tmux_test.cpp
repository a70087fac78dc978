// End to end: `dsvl chat` driven in a real terminal (tmux send-keys / capture-pane): turns with
// history, images by /image and <image:PATH>, dropping old turns past the context, `new`,
// Ctrl-C stopping an answer (and only a hint at the prompt), `exit`.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "cli/cli_fixture.h"
#include "common/shared.h"

namespace dsvl::test {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

// One tmux server of our own (its own socket), running `command` in a 200×50 pane; the
// pane stays after the command exits and shows "EXITED rc=N".
class Tmux {
 public:
  explicit Tmux(const std::string& command)
      : tmux_("env -u TMUX tmux -f /dev/null -L dsvl-test-" + std::to_string(getpid())) {
    const std::string script = command + "; echo EXITED rc=\\$?; sleep 600";
    ok_ = run_command(tmux_ + " new-session -d -s chat -x 200 -y 50 \"" + script + "\"") == 0;
  }
  ~Tmux() { run_command(tmux_ + " kill-server"); }
  bool ok() const { return ok_; }

  void type(const std::string& line) {
    run_command(tmux_ + " send-keys -t chat -l '" + line + "'");
    run_command(tmux_ + " send-keys -t chat Enter");
  }
  void ctrl_c() { run_command(tmux_ + " send-keys -t chat C-c"); }

  // The whole pane history, wrapped lines joined, without the blank rows below the text.
  std::string screen() {
    std::string out;
    run_command(tmux_ + " capture-pane -p -J -S - -t chat", &out);
    out.erase(out.find_last_not_of(" \n") + 1);
    return out;
  }
  // Polls the screen until `done` holds (true) or `seconds` pass (false).
  bool wait(const std::function<bool(const std::string&)>& done, double seconds = 30) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      if (done(screen())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  bool wait_for(const std::string& text, size_t times = 1) {
    return wait([&](const std::string& s) { return count(s, text) >= times; });
  }

 private:
  std::string tmux_;
  bool ok_ = false;
};

class CliChat : public TinyChatFixture {
 protected:
  void SetUp() override {
    if (run_command("tmux -V") != 0) GTEST_SKIP() << "tmux is not installed";
    TinyChatFixture::SetUp();
  }
};

TEST_F(CliChat, TurnsImagesContextDropNewAndExit) {
  // 1200 tokens hold one image turn (~620 tokens) but not two.
  Tmux t(dsvl_binary() + " chat -m " + m + " --temp 0 -n 6 --ctx 1200");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t.wait_for("User:")) << t.screen();
  t.type("Hello, who are you?");
  ASSERT_TRUE(t.wait_for("User:", 2)) << t.screen();
  t.type("And what can you do?");
  ASSERT_TRUE(t.wait_for("User:", 3)) << t.screen();
  EXPECT_EQ(count(t.screen(), "Assistant:"), 2u) << t.screen();

  t.type("/image " + dog);
  ASSERT_TRUE(t.wait_for("(image 1 attached: " + dog + ")")) << t.screen();
  t.type("What is in this picture?");
  ASSERT_TRUE(t.wait_for("User:", 5)) << t.screen();
  EXPECT_EQ(t.screen().find("outgrew"), std::string::npos) << t.screen();
  EXPECT_EQ(count(t.screen(), "Assistant:"), 3u) << t.screen();

  // A second image does not fit beside the first: the oldest turns go, and the user is told.
  t.type("And this one? <image:" + logo + ">");
  ASSERT_TRUE(t.wait_for("User:", 6)) << t.screen();
  EXPECT_NE(t.screen().find("the conversation outgrew the context of 1200 tokens: dropped the 3 "
                            "oldest turn(s)"),
            std::string::npos)
      << t.screen();
  EXPECT_EQ(count(t.screen(), "Assistant:"), 4u) << t.screen();

  t.type("<image:/nonexistent/cat.png> what is it");
  ASSERT_TRUE(t.wait_for("(error: cannot read image /nonexistent/cat.png)")) << t.screen();
  t.type("/image " + dog);
  t.type("<image> and <image>?");
  ASSERT_TRUE(t.wait_for("(error: the message has more <image> markers than attached images (1))"))
      << t.screen();
  t.type("new");
  ASSERT_TRUE(t.wait_for("(new conversation)")) << t.screen();
  t.ctrl_c();  // at the prompt: a hint, the session goes on
  ASSERT_TRUE(t.wait_for("(type exit to quit)")) << t.screen();
  t.type("hi again");
  ASSERT_TRUE(t.wait([](const std::string& s) { return count(s, "Assistant:") == 5; }))
      << t.screen();
  t.type("exit");
  ASSERT_TRUE(t.wait_for("EXITED rc=0")) << t.screen();
}

TEST_F(CliChat, CtrlCStopsALongAnswerAndTheSessionGoesOn) {
  // Greedy on this random model runs thousands of tokens without EOS; -n caps nothing.
  Tmux t(dsvl_binary() + " chat -m " + m + " --temp 0 -n 100000 --ctx 16384");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t.wait_for("User:")) << t.screen();
  for (int round = 1; round <= 2; ++round) {
    t.type(round == 1 ? "Tell me a very long story." : "Another one, please.");
    // Wait until this round's answer has visibly streamed for a while, then interrupt it.
    // (Counting the answers matters: the last "Assistant:" is round 1's until round 2's is
    // printed, and a Ctrl-C sent then flushes the typed line like any terminal does.)
    ASSERT_TRUE(t.wait([&](const std::string& s) {
      const size_t a = s.rfind("Assistant:");
      return count(s, "Assistant:") == size_t(round) && s.size() - a > 120;
    })) << t.screen();
    t.ctrl_c();
    ASSERT_TRUE(t.wait_for("(stopped)", size_t(round))) << t.screen();
    ASSERT_TRUE(t.wait_for("User:", size_t(round) + 1)) << t.screen();
  }
  t.type("/clear");
  ASSERT_TRUE(t.wait_for("(new conversation)")) << t.screen();
  t.type("exit");
  ASSERT_TRUE(t.wait_for("EXITED rc=0")) << t.screen();
}

}  // namespace
}  // namespace dsvl::test
