// webaccel: the command-line front end of the runtime.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"

namespace {

const char* kUsage = R"(usage: webaccel <command> [options]

commands:
  run       -m MODEL [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
            [--repeat-penalty R] [--seed S] [--threads N] [--ctx N] [--kv-type f16|f32] [--ids] [--mem]
            generate text (with --ids: token ids, one per line); speed to stderr
  logits    -m MODEL --tokens FILE --out FILE [--threads N]
            teacher-forced float32 logits for every position
  tokenize  -m MODEL [--no-bos]          text on stdin -> token ids
  info      MODEL                        metadata, tensors, types and sizes
  convert   IN OUT.gguf [--type TYPE] [--vocab VOCAB.gguf] [--name NAME]
            llama2.c .bin or GGUF -> GGUF (--vocab: take the tokenizer from another GGUF)
  quantize  IN.gguf OUT.gguf --type TYPE [--calib TEXT [--calib-tokens N] [--method M]] [--threads N]
            GGUF -> GGUF with the weight matrices re-encoded (metadata and tokenizer kept);
            prints the measured bits per weight. TYPE: f32 f16 q8_0 q6_K q5_K q5_1 q5_0
            q4_K q4_1 q4_0 q3_K q2_K. --calib: quantizers fitted to activations on the
            text; M: gptq (default: error-compensating rounding, k-quants), weighted
            (importance-weighted scales), rtn (round-to-nearest)
  quantize  IN.gguf OUT.gguf --adaptive (--budget-mb MB | --bpw BITS) [--calib TEXT [--method M]]
            [--plan-report PLAN.md]
            a type per matrix, the least estimated loss within the file size (MB = 10^6
            bytes) or average bits per weight; --calib measures each matrix's KLD
  bench     -m MODEL [-p 512] [-n 128] [-r 5] [-t THREADS] [-o md|json]
  perplexity -m MODEL -f TEXTFILE [--ctx N] [--chunks N]
            perplexity as llama.cpp computes it (chunks of --ctx, BOS first, second half scored)
  kld       -m MODEL --base BASE_MODEL -f TEXTFILE [--ctx N] [--chunks N]
            KL divergence and top-1 agreement of MODEL against BASE_MODEL, same chunks
  synth     --arch llama --preset tiny|1b|7b --type TYPE OUT.gguf [--seed S]
            deterministic random-weight model (synthetic, for benchmarks)
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  using namespace wa::cli;
  if (cmd == "run") return cmd_run(argc, argv);
  if (cmd == "logits") return cmd_logits(argc, argv);
  if (cmd == "tokenize") return cmd_tokenize(argc, argv);
  if (cmd == "info") return cmd_info(argc, argv);
  if (cmd == "convert") return cmd_convert(argc, argv);
  if (cmd == "quantize") return cmd_quantize(argc, argv);
  if (cmd == "bench") return cmd_bench(argc, argv);
  if (cmd == "synth") return cmd_synth(argc, argv);
  if (cmd == "perplexity") return cmd_perplexity(argc, argv);
  if (cmd == "kld") return cmd_kld(argc, argv);
  std::fprintf(stderr, "webaccel: error: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
