// webaccel perplexity / kld: quality of a model on a text, measured the way
// llama.cpp's perplexity tool does, so figures are comparable across tools.
//
// The text is tokenized once (BOS first) and cut into chunks of n_ctx tokens.
// Each chunk is evaluated from an empty context with its first token replaced
// by BOS, and only the predictions in the second half of the chunk are scored
// (tokens n_ctx/2+1 .. n_ctx-1 from the logits one position earlier): every
// scored token then has at least n_ctx/2 tokens of context, which keeps the
// figure from being dominated by the poorly-conditioned start of each chunk.
//
// kld runs the same chunks through a base (reference) model and the model
// under test and reports, over the scored positions, the mean KL divergence
// KL(base || model) = sum_v p_base(v) (log p_base(v) - log p_model(v)), how
// often both models' most likely token agree (top-1), and both perplexities.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/sampling.h"
#include "model_setup.h"
#include "tokenizers/tokenizer.h"

namespace wa::cli {
namespace {

// log-softmax of one row of logits, in double (32000-way sums lose digits in float).
void log_softmax(const float* logits, int n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  double mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<double>(logits[i]) - lse;
}

// Mean and standard error of the mean of accumulated values.
struct Stat {
  double sum = 0, sum2 = 0;
  long long n = 0;
  void add(double x) {
    sum += x;
    sum2 += x * x;
    ++n;
  }
  double mean() const { return n ? sum / static_cast<double>(n) : 0.0; }
  double sem() const {
    if (n < 2) return 0.0;
    const double m = mean();
    const double var = std::max(0.0, sum2 / static_cast<double>(n) - m * m);
    return std::sqrt(var / static_cast<double>(n - 1));
  }
};

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open text file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Options shared by both commands, and the chunking that follows from them.
struct Setup {
  std::vector<int32_t> tokens;
  int n_ctx = 0;
  int n_chunks = 0;
  int first = 0;  // first scored logit row of a chunk
};

Result<Setup> make_setup(const Args& args, Engine& e, const std::string& text_path) {
  Setup s;
  const Tokenizer* tok = e.loaded.tokenizer.get();
  if (!tok) return invalid_argument("the model has no tokenizer, so the text cannot be tokenized");
  WA_ASSIGN_OR_RETURN(std::string text, read_text(text_path));
  if (text.empty()) return invalid_argument("text file '" + text_path + "' is empty");
  s.tokens = tok->encode(text, {.add_bos = true});
  const int train_ctx = e.loaded.model->n_ctx_train();
  WA_ASSIGN_OR_RETURN(long long ctx, args.get_int("--ctx", std::min(512, train_ctx), 16, 1 << 20));
  if (ctx > train_ctx) {
    std::fprintf(stderr, "webaccel: warning: --ctx %lld exceeds the model's training context %d\n", ctx, train_ctx);
  }
  s.n_ctx = static_cast<int>(ctx);
  s.first = s.n_ctx / 2;
  const long long available = static_cast<long long>(s.tokens.size()) / s.n_ctx;
  if (available < 1) {
    return invalid_argument(strformat("text too short: %zu tokens, need at least one chunk of %d (lower --ctx?)",
                                      s.tokens.size(), s.n_ctx));
  }
  WA_ASSIGN_OR_RETURN(long long max_chunks, args.get_int("--chunks", 0, 0, 1 << 30));
  s.n_chunks = static_cast<int>(max_chunks > 0 ? std::min(available, max_chunks) : available);
  return s;
}

Result<std::unique_ptr<Engine>> open_for_text(const Args& args, const std::string& model_path, int n_ctx) {
  WA_ASSIGN_OR_RETURN(EngineOptions o, engine_options(args));
  o.model_path = model_path;
  o.n_ctx = n_ctx;
  o.require_tokenizer = true;
  return open_engine(o);
}

// Evaluates chunk c of the setup from an empty context; logits of every position.
Status eval_chunk(Engine& e, const Setup& s, int c, std::vector<int32_t>& buf) {
  buf.assign(s.tokens.begin() + static_cast<ptrdiff_t>(c) * s.n_ctx,
             s.tokens.begin() + static_cast<ptrdiff_t>(c + 1) * s.n_ctx);
  buf[0] = bos_id(e.loaded);
  e.session->reset();
  return e.session->eval(buf, /*all_logits=*/true);
}

std::vector<std::string> common_options() {
  return {"-m", "--model", "-f", "--file", "--ctx", "--chunks", "--threads", "-t", "--kv-type"};
}

std::string text_path(const Args& args) { return args.get_or("-f", args.get_or("--file", "")); }

}  // namespace

int cmd_perplexity(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown(common_options());
  if (!st.ok()) return fail(st);
  const std::string model_path = args.get_or("-m", args.get_or("--model", ""));
  if (model_path.empty()) return fail(invalid_argument("no model given (-m MODEL)"));
  if (text_path(args).empty()) return fail(invalid_argument("no text given (-f TEXTFILE)"));

  // Open once with a small context to tokenize and size the chunks, then with n_ctx.
  auto probe = open_for_text(args, model_path, 16);
  if (!probe.ok()) return fail(probe.status());
  auto setup = make_setup(args, *probe.value(), text_path(args));
  if (!setup.ok()) return fail(setup.status());
  const Setup& s = setup.value();
  probe.value().reset();
  auto engine = open_for_text(args, model_path, s.n_ctx);
  if (!engine.ok()) return fail(engine.status());
  Engine& e = *engine.value();

  std::printf("perplexity: %zu tokens, %d chunks of %d, scoring the last %d predictions of each\n", s.tokens.size(),
              s.n_chunks, s.n_ctx, s.n_ctx - 1 - s.first);
  Stat nll;
  std::vector<int32_t> buf;
  std::vector<double> lp;
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < s.n_chunks; ++c) {
    st = eval_chunk(e, s, c, buf);
    if (!st.ok()) return fail(st);
    for (int j = s.first; j < s.n_ctx - 1; ++j) {
      log_softmax(e.session->logits(j), e.session->n_vocab(), lp);
      nll.add(-lp[static_cast<size_t>(buf[static_cast<size_t>(j + 1)])]);
    }
    std::printf("[%d]%.4f%s", c + 1, std::exp(nll.mean()), c + 1 == s.n_chunks ? "\n" : ",");
    std::fflush(stdout);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double ppl = std::exp(nll.mean());
  std::printf("Final estimate: PPL = %.4f +/- %.5f  (mean NLL %.5f over %lld tokens)\n", ppl, ppl * nll.sem(),
              nll.mean(), nll.n);
  std::fprintf(stderr, "%.1f s, %.1f tokens/s, %d threads\n", secs, s.n_chunks * s.n_ctx / secs, e.n_threads);
  return 0;
}

int cmd_kld(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  auto known = common_options();
  known.push_back("--base");
  Status st = args.check_unknown(known);
  if (!st.ok()) return fail(st);
  const std::string model_path = args.get_or("-m", args.get_or("--model", ""));
  const std::string base_path = args.get_or("--base", "");
  if (model_path.empty()) return fail(invalid_argument("no model given (-m MODEL)"));
  if (base_path.empty()) return fail(invalid_argument("no reference model given (--base BASE_MODEL)"));
  if (text_path(args).empty()) return fail(invalid_argument("no text given (-f TEXTFILE)"));

  auto probe = open_for_text(args, base_path, 16);
  if (!probe.ok()) return fail(probe.status().with_context("base model"));
  auto setup = make_setup(args, *probe.value(), text_path(args));
  if (!setup.ok()) return fail(setup.status());
  const Setup& s = setup.value();
  probe.value().reset();
  auto base = open_for_text(args, base_path, s.n_ctx);
  if (!base.ok()) return fail(base.status().with_context("base model"));
  auto model = open_for_text(args, model_path, s.n_ctx);
  if (!model.ok()) return fail(model.status().with_context("model"));
  Engine& eb = *base.value();
  Engine& em = *model.value();

  // Comparing distributions only means something over the same token ids.
  const int n_vocab = eb.session->n_vocab();
  if (em.session->n_vocab() != n_vocab) {
    return fail(invalid_argument(strformat("vocabulary mismatch: the model has %d tokens, the base %d",
                                           em.session->n_vocab(), n_vocab)));
  }
  {
    const auto& vb = eb.loaded.tokenizer->vocab().tokens;
    const auto& vm = em.loaded.tokenizer->vocab().tokens;
    if (vb != vm) return fail(invalid_argument("vocabulary mismatch: the models' token lists differ"));
  }

  std::printf("kld: %zu tokens, %d chunks of %d, scoring the last %d predictions of each\n", s.tokens.size(),
              s.n_chunks, s.n_ctx, s.n_ctx - 1 - s.first);
  const int n_scored = s.n_ctx - 1 - s.first;
  Stat kld, nll_m, nll_b, same_top;
  std::vector<double> all_kld;
  std::vector<int32_t> buf;
  std::vector<double> lpb, lpm;
  // The base's scored rows, kept while the model evaluates the same chunk.
  std::vector<float> base_rows(static_cast<size_t>(n_scored) * static_cast<size_t>(n_vocab));
  for (int c = 0; c < s.n_chunks; ++c) {
    st = eval_chunk(eb, s, c, buf);
    if (!st.ok()) return fail(st.with_context("base model"));
    for (int j = 0; j < n_scored; ++j) {
      const float* row = eb.session->logits(s.first + j);
      std::copy(row, row + n_vocab, base_rows.begin() + static_cast<ptrdiff_t>(j) * n_vocab);
    }
    st = eval_chunk(em, s, c, buf);
    if (!st.ok()) return fail(st.with_context("model"));
    for (int j = 0; j < n_scored; ++j) {
      const float* rb = base_rows.data() + static_cast<ptrdiff_t>(j) * n_vocab;
      const float* rm = em.session->logits(s.first + j);
      log_softmax(rb, n_vocab, lpb);
      log_softmax(rm, n_vocab, lpm);
      double kl = 0.0;
      for (int v = 0; v < n_vocab; ++v) kl += std::exp(lpb[static_cast<size_t>(v)]) * (lpb[static_cast<size_t>(v)] - lpm[static_cast<size_t>(v)]);
      kl = std::max(0.0, kl);  // rounding can make an exact match slightly negative
      kld.add(kl);
      all_kld.push_back(kl);
      const size_t target = static_cast<size_t>(buf[static_cast<size_t>(s.first + j + 1)]);
      nll_b.add(-lpb[target]);
      nll_m.add(-lpm[target]);
      same_top.add(argmax(rb, n_vocab) == argmax(rm, n_vocab) ? 1.0 : 0.0);
    }
    std::printf("[%d] KLD %.6f top-1 %.2f%%%s", c + 1, kld.mean(), 100.0 * same_top.mean(),
                c + 1 == s.n_chunks ? "\n" : ", ");
    std::fflush(stdout);
  }
  std::sort(all_kld.begin(), all_kld.end());
  auto pct = [&](double p) { return all_kld[static_cast<size_t>(p * static_cast<double>(all_kld.size() - 1))]; };
  const double ppl_m = std::exp(nll_m.mean()), ppl_b = std::exp(nll_b.mean());
  std::printf("Mean PPL(model)      : %.4f +/- %.5f\n", ppl_m, ppl_m * nll_m.sem());
  std::printf("Mean PPL(base)       : %.4f +/- %.5f\n", ppl_b, ppl_b * nll_b.sem());
  std::printf("Mean ln(PPL ratio)   : %.6f\n", nll_m.mean() - nll_b.mean());
  std::printf("Mean KLD             : %.6f +/- %.6f\n", kld.mean(), kld.sem());
  std::printf("Median KLD           : %.6f\n", pct(0.5));
  std::printf("99.0%% KLD            : %.6f\n", pct(0.99));
  std::printf("Maximum KLD          : %.6f\n", all_kld.back());
  std::printf("Same top-1           : %.3f +/- %.3f %%\n", 100.0 * same_top.mean(), 100.0 * same_top.sem());
  std::printf("Scored tokens        : %lld\n", kld.n);
  return 0;
}

}  // namespace wa::cli
