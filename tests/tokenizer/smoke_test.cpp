#include <gtest/gtest.h>
#include "tokenizer/tokenizer.h"
TEST(TokSmoke, Load) {
  auto t = dsvl::tokenizer::Tokenizer::load(DSVL_SOURCE_DIR "/../shared/tokenizers/deepseek_vl");
  auto ids = t.encode("Führer Hello world 123", true);
  for (auto i : ids) printf("%d ", i);
  printf("\n%s\n", t.decode(ids, false).c_str());
}
