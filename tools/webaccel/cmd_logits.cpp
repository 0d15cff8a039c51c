// webaccel logits: teacher-forced float32 logits for every position.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "model_setup.h"

namespace wa::cli {

int cmd_logits(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown({"-m", "--model", "--tokens", "--out", "--threads", "-t", "--ctx", "--kv-type"});
  if (!st.ok()) return fail(st);
  auto eo = engine_options(args);
  if (!eo.ok()) return fail(eo.status());
  const auto tokens_path = args.get("--tokens");
  const auto out_path = args.get("--out");
  if (!tokens_path || !out_path) return fail(invalid_argument("logits needs --tokens FILE and --out FILE"));

  std::ifstream in(*tokens_path);
  if (!in) return fail(io_error("cannot open token file '" + *tokens_path + "'"));
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long long v = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || v < INT32_MIN || v > INT32_MAX) {
      return fail(invalid_argument("token file contains '" + word + "', which is not a token id"));
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return fail(invalid_argument("token file '" + *tokens_path + "' holds no token ids"));

  EngineOptions o = eo.value();
  if (o.n_ctx == 0) o.n_ctx = static_cast<int>(ids.size());
  auto engine = open_engine(o);
  if (!engine.ok()) return fail(engine.status());
  Session& s = *engine.value()->session;
  st = s.eval(ids, /*all_logits=*/true);
  if (!st.ok()) return fail(st);

  FILE* f = std::fopen(out_path->c_str(), "wb");
  if (!f) return fail(io_error("cannot create '" + *out_path + "'"));
  for (int i = 0; i < s.n_logits(); ++i) {
    if (std::fwrite(s.logits(i), sizeof(float), static_cast<size_t>(s.n_vocab()), f) != static_cast<size_t>(s.n_vocab())) {
      std::fclose(f);
      return fail(io_error("write to '" + *out_path + "' failed"));
    }
  }
  if (std::fclose(f) != 0) return fail(io_error("closing '" + *out_path + "' failed"));
  std::fprintf(stderr, "wrote %d x %d logits to %s\n", s.n_logits(), s.n_vocab(), out_path->c_str());
  return 0;
}

}  // namespace wa::cli
