#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace {

namespace u = dsvl::tokenizer::unicode;
const std::string kFffd = "\xEF\xBF\xBD";

TEST(Unicode, LossyDecodeUsesMaximalSubparts) {
  // Each case: bytes -> Rust String::from_utf8_lossy.
  EXPECT_EQ(u::utf8_lossy("plain \xC3\xA9"), "plain \xC3\xA9");
  EXPECT_EQ(u::utf8_lossy("a\x80" "b"), "a" + kFffd + "b");
  EXPECT_EQ(u::utf8_lossy("\xE0\x80"), kFffd + kFffd);                 // E0 needs A0..BF
  EXPECT_EQ(u::utf8_lossy("\xF0\x9F\x98"), kFffd);                     // truncated 4-byte
  EXPECT_EQ(u::utf8_lossy("\xF0\x9F\x98" "a"), kFffd + "a");
  EXPECT_EQ(u::utf8_lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);     // surrogate
  EXPECT_EQ(u::utf8_lossy("\xC0\xAF"), kFffd + kFffd);                 // overlong
  EXPECT_EQ(u::utf8_lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(u::utf8_lossy("\xFC"), kFffd);
  EXPECT_EQ(u::valid_utf8_prefix("abcdefgh\xC3\xA9z\xFF"), 11u);
}

TEST(Unicode, DecodablePrefixHoldsOnlyCompletableTails) {
  EXPECT_EQ(u::utf8_decodable_prefix("ab"), 2u);
  EXPECT_EQ(u::utf8_decodable_prefix("a\xE2\x82"), 1u);
  EXPECT_EQ(u::utf8_decodable_prefix("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(u::utf8_decodable_prefix("a\xF0\x9F\x98"), 1u);
  EXPECT_EQ(u::utf8_decodable_prefix("a\xE0\x80"), 3u);  // already invalid: emit now
  EXPECT_EQ(u::utf8_decodable_prefix("\x80\x80\x80\x80"), 4u);
}

TEST(Unicode, PropertiesFollowRustAndOniguruma) {
  for (char32_t c : {0x09, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2028, 0x3000})
    EXPECT_TRUE(u::is_white_space(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {0x1C, 0x1F, 0x180E, 0x200B, 0xFEFF, 0x41})
    EXPECT_FALSE(u::is_white_space(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {0x30, 0xBD, 0x2460, 0x216B, 0x0663, 0xFF13})
    EXPECT_TRUE(u::is_numeric(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {0x41, 0x2E, 0x3007 - 1}) EXPECT_FALSE(u::is_numeric(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {0x5F, 0xE9, 0x200D, 0x0301, 0x4E00, 0x0663})
    EXPECT_TRUE(u::is_word_char(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {0x2D, 0x20, 0x3002}) EXPECT_FALSE(u::is_word_char(c)) << std::hex << static_cast<uint32_t>(c);
}

TEST(Unicode, NfcAndNfdHandPickedCases) {
  EXPECT_EQ(u::nfc("e\xCC\x81"), "\xC3\xA9");                            // e + U+0301 -> é
  EXPECT_EQ(u::nfd("\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(u::nfc("\xE1\xB8\x8B\xCC\xA3"), "\xE1\xB8\x8D\xCC\x87");     // reordering
  EXPECT_EQ(u::nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // Hangul LVT
  EXPECT_EQ(u::nfc("\xE2\x84\xAB"), "\xC3\x85");                         // Angstrom sign
  EXPECT_EQ(u::nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");         // excluded U+0958
  EXPECT_EQ(u::nfc("plain ascii"), "plain ascii");
  EXPECT_TRUE(u::is_nfc_quick("\xE4\xB8\xAD\xE6\x96\x87"));              // CJK
  EXPECT_FALSE(u::is_nfc_quick("e\xCC\x81"));
}

// The Unicode conformance file, when Debian's unicode-data package is installed.
TEST(Unicode, NormalizationTestFile) {
  const char* path = "/usr/share/unicode/NormalizationTest.txt.bz2";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not installed (unicode-data)";
  FILE* p = popen((std::string("bzcat ") + path).c_str(), "r");
  ASSERT_NE(p, nullptr);
  auto field = [](const std::string& hex) {
    std::string out;
    std::istringstream ss(hex);
    std::string cp;
    while (ss >> cp) u::append_utf8(out, static_cast<char32_t>(std::stoul(cp, nullptr, 16)));
    return out;
  };
  char line[1024];
  size_t n = 0, bad = 0;
  while (fgets(line, sizeof line, p)) {
    std::string l(line);
    if (l.empty() || l[0] == '#' || l[0] == '@') continue;
    std::vector<std::string> c;
    std::istringstream ss(l);
    std::string f;
    for (int k = 0; k < 5 && std::getline(ss, f, ';'); ++k) c.push_back(field(f));
    if (c.size() < 5) continue;
    ++n;
    bool ok = u::nfc(c[0]) == c[1] && u::nfc(c[1]) == c[1] && u::nfc(c[2]) == c[1] &&
              u::nfd(c[0]) == c[2] && u::nfd(c[2]) == c[2];
    if (!ok && ++bad <= 5) ADD_FAILURE() << "NormalizationTest line: " << l;
  }
  pclose(p);
  EXPECT_EQ(bad, 0u) << "of " << n;
  EXPECT_GT(n, 10000u);
}

}  // namespace
