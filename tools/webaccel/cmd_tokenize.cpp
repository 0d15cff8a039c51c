// webaccel tokenize: text on stdin -> token ids on stdout.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "formats/gguf.h"
#include "model_setup.h"
#include "tokenizers/tokenizer.h"

namespace wa::cli {

int cmd_tokenize(int argc, char** argv) {
  Args args(argc, argv, 2, {"--no-bos", "--parse-special"});
  Status st = args.check_unknown({"-m", "--model", "--no-bos", "--parse-special"});
  if (!st.ok()) return fail(st);
  const std::string path = args.get_or("-m", args.get_or("--model", ""));
  if (path.empty()) return fail(invalid_argument("no model given (-m MODEL)"));
  // Only the vocabulary is needed: tokenizer-only GGUF files work too.
  auto file = GgufFile::open(path);
  if (!file.ok()) return fail(file.status());
  auto tok = Tokenizer::from_gguf(*file.value());
  if (!tok.ok()) return fail(tok.status().with_context(path));
  const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const auto ids = tok.value()->encode(
      text, {.add_bos = tok.value()->add_bos_by_default() && !args.has("--no-bos"), .parse_special = args.has("--parse-special")});
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
  return 0;
}

}  // namespace wa::cli
