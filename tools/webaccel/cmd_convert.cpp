// webaccel convert / quantize / synth: write GGUF files.
#include <cstdio>

#include "cli.h"
#include "core/memory.h"
#include "formats/convert.h"

namespace wa::cli {
namespace {

Result<DType> parse_type(const std::string& name) {
  auto t = dtype_from_name(name);
  if (!t) return invalid_argument("unknown type '" + name + "' (" + kConvertibleTypes + ")");
  return *t;
}

void print_notes(const ConvertReport& r) {
  for (const auto& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
}

// "q4_K 98.1%, q8_0 1.9%": how the weights are stored.
std::string type_mix(const WeightSize& ws) {
  std::string s;
  for (const auto& [t, n] : ws.weights_by_type) {
    s += strformat("%s%s %.1f%%", s.empty() ? "" : ", ", dtype_name(t),
                   100.0 * static_cast<double>(n) / static_cast<double>(ws.n_weights));
  }
  return s;
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown({"--type", "--vocab", "--name"});
  if (!st.ok()) return fail(st);
  if (args.positional().size() != 2) {
    return fail(invalid_argument("usage: webaccel convert IN OUT.gguf [--type TYPE] [--vocab VOCAB.gguf] [--name NAME]"));
  }
  auto type = parse_type(args.get_or("--type", "f32"));
  if (!type.ok()) return fail(type.status());
  ConvertReport report;
  st = convert_model(args.positional()[0], args.positional()[1], type.value(), &report, args.get_or("--vocab", ""),
                     args.get_or("--name", ""));
  print_notes(report);
  if (!st.ok()) return fail(st);
  std::fprintf(stderr, "wrote %s (%s)\n", args.positional()[1].c_str(), dtype_name(type.value()));
  return 0;
}

int cmd_quantize(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown({"--type"});
  if (!st.ok()) return fail(st);
  if (args.positional().size() != 2 || !args.get("--type")) {
    return fail(invalid_argument(std::string("usage: webaccel quantize IN.gguf OUT.gguf --type TYPE (") +
                                 kConvertibleTypes + ")"));
  }
  auto type = parse_type(*args.get("--type"));
  if (!type.ok()) return fail(type.status());
  const std::string& in = args.positional()[0];
  const std::string& out = args.positional()[1];
  ConvertReport report;
  st = quantize_model(in, out, type.value(), &report);
  print_notes(report);
  if (!st.ok()) return fail(st);
  // Sizes as written: both files' weight matrices measured from their tensor tables.
  auto before = GgufFile::open(in);
  auto after = GgufFile::open(out);
  if (!before.ok()) return fail(before.status());
  if (!after.ok()) return fail(after.status().with_context("reading back " + out));
  const WeightSize a = measure_weights(*before.value()), b = measure_weights(*after.value());
  std::fprintf(stderr, "wrote %s (%s): %s, weights %s -> %s, %.3f -> %.3f bits per weight (%s)\n", out.c_str(),
               dtype_name(type.value()), format_bytes(after.value()->file_size()).c_str(), format_bytes(a.bytes).c_str(),
               format_bytes(b.bytes).c_str(), a.bits_per_weight(), b.bits_per_weight(), type_mix(b).c_str());
  return 0;
}

int cmd_synth(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown({"--arch", "--preset", "--type", "--seed"});
  if (!st.ok()) return fail(st);
  if (args.positional().size() != 1) {
    return fail(invalid_argument("usage: webaccel synth --arch llama --preset tiny|1b|7b --type TYPE OUT.gguf"));
  }
  if (args.get_or("--arch", "llama") != "llama") return fail(unsupported("synth supports --arch llama"));
  auto type = parse_type(args.get_or("--type", "q4_0"));
  if (!type.ok()) return fail(type.status());
  auto seed = args.get_int("--seed", 1, 0, 1ll << 62);
  if (!seed.ok()) return fail(seed.status());
  SynthSpec spec;
  spec.preset = args.get_or("--preset", "tiny");
  spec.type = type.value();
  spec.seed = static_cast<uint64_t>(seed.value());
  ConvertReport report;
  st = write_synthetic_model(spec, args.positional()[0], &report);
  print_notes(report);
  if (!st.ok()) return fail(st);
  std::fprintf(stderr, "wrote %s\n", args.positional()[0].c_str());
  return 0;
}

}  // namespace wa::cli
