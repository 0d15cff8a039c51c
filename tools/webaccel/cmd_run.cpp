// webaccel run: generate from a prompt, streaming text (or ids) to stdout.
#include <chrono>
#include <cstdio>

#include "model_setup.h"
#include "runtime/sampler.h"
#include "tokenizers/tokenizer.h"

namespace wa::cli {

int cmd_run(int argc, char** argv) {
  Args args(argc, argv, 2, {"--ids", "--mem", "--no-bos"});
  Status st = args.check_unknown({"-m", "--model", "-p", "--prompt", "-n", "--temp", "--top-k", "--top-p", "--min-p",
                                  "--repeat-penalty", "--repeat-last-n", "--seed", "--threads", "-t", "--ctx",
                                  "--kv-type", "--ids", "--mem", "--no-bos"});
  if (!st.ok()) return fail(st);
  auto eo = engine_options(args);
  if (!eo.ok()) return fail(eo.status());
  auto n_gen = args.get_int("-n", 128, 0, 1 << 20);
  auto temp = args.get_float("--temp", 0.8, 0.0, 100.0);
  auto top_k = args.get_int("--top-k", 40, 0, 1 << 22);
  auto top_p = args.get_float("--top-p", 0.95, 0.0, 1.0);
  auto min_p = args.get_float("--min-p", 0.05, 0.0, 1.0);
  auto rep = args.get_float("--repeat-penalty", 1.0, 0.0, 100.0);
  auto rep_n = args.get_int("--repeat-last-n", 64, 0, 1 << 20);
  auto seed = args.get_int("--seed", 0, 0, (1ll << 62));
  for (const Status* s : {&n_gen.status(), &temp.status(), &top_k.status(), &top_p.status(), &min_p.status(),
                          &rep.status(), &rep_n.status(), &seed.status()}) {
    if (!s->ok()) return fail(*s);
  }
  const std::string prompt = args.get_or("-p", args.get_or("--prompt", ""));
  const bool print_ids = args.has("--ids");

  auto engine = open_engine(eo.value());
  if (!engine.ok()) return fail(engine.status());
  Engine& e = *engine.value();
  const Tokenizer* tok = e.loaded.tokenizer.get();
  if (!tok && !print_ids) return fail(invalid_argument("this model has no tokenizer: use --ids to print token ids"));

  std::vector<int32_t> ids;
  if (!prompt.empty()) {
    if (!tok) return fail(invalid_argument("this model has no tokenizer, so a text prompt cannot be encoded"));
    ids = tok->encode(prompt, {.add_bos = tok->add_bos_by_default() && !args.has("--no-bos")});
  }
  if (ids.empty()) ids.push_back(bos_id(e.loaded));

  SamplerParams sp;
  sp.temperature = static_cast<float>(temp.value());
  sp.top_k = static_cast<int>(top_k.value());
  sp.top_p = static_cast<float>(top_p.value());
  sp.min_p = static_cast<float>(min_p.value());
  sp.repeat_penalty = static_cast<float>(rep.value());
  sp.repeat_last_n = static_cast<int>(rep_n.value());
  sp.seed = static_cast<uint64_t>(seed.value());
  Sampler sampler(sp);
  for (int32_t id : ids) sampler.accept(id);

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  st = e.session->eval(ids);
  if (!st.ok()) return fail(st);
  const auto t1 = clock::now();

  if (tok && !print_ids) std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  std::unique_ptr<StreamDecoder> dec;
  if (tok) dec = std::make_unique<StreamDecoder>(*tok, /*at_sequence_start=*/prompt.empty());
  int generated = 0;
  while (generated < n_gen.value()) {
    const int32_t next = sampler.sample(e.session->logits(), e.session->n_vocab());
    if (tok && tok->is_end_of_generation(next)) break;
    sampler.accept(next);
    ++generated;
    if (print_ids) {
      std::printf("%d\n", next);
    } else {
      std::fputs(dec->push(next).c_str(), stdout);
    }
    std::fflush(stdout);
    if (generated == n_gen.value()) break;  // the last token needs no forward pass
    if (e.session->n_past() >= e.session->n_ctx()) {
      std::fprintf(stderr, "\nwebaccel: context full (%d tokens)\n", e.session->n_ctx());
      break;
    }
    st = e.session->eval(std::span<const int32_t>(&next, 1));
    if (!st.ok()) return fail(st);
  }
  if (dec) std::fputs(dec->flush().c_str(), stdout);
  if (!print_ids) std::fputs("\n", stdout);
  const auto t2 = clock::now();
  const double pp_s = std::chrono::duration<double>(t1 - t0).count();
  const double tg_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "\nprompt: %zu tokens in %.1f ms (%.2f t/s)\n", ids.size(), pp_s * 1e3,
               static_cast<double>(ids.size()) / pp_s);
  std::fprintf(stderr, "generation: %d tokens in %.1f ms (%.2f t/s), %d threads\n", generated, tg_s * 1e3,
               generated > 0 ? generated / tg_s : 0.0, e.n_threads);
  if (args.has("--mem")) std::fprintf(stderr, "\nmemory:\n%s", e.tracker->table().c_str());
  return 0;
}

}  // namespace wa::cli
