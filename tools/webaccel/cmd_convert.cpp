// webaccel convert / quantize / synth: write GGUF files.
#include <cmath>
#include <cstdio>

#include "cli.h"
#include "core/memory.h"
#include "formats/convert.h"
#include "formats/convert_adaptive.h"
#include "quant/calibration.h"

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

namespace {

constexpr const char* kQuantizeUsage =
    "usage: webaccel quantize IN.gguf OUT.gguf --type TYPE [--calib TEXT [--method gptq|weighted|rtn] [--hot-rows N]]\n"
    "       webaccel quantize IN.gguf OUT.gguf --adaptive (--budget-mb MB | --bpw BITS) [--calib TEXT "
    "[--method gptq|weighted|rtn]] [--plan-report PLAN.md] [--own-formats [--hot-rows N]]\n"
    "  --own-formats: the planner may also choose webaccel's own wa_vq2 / wa_vq3 and, for a tied token embedding,\n"
    "  hot rows (not GGUF types: such a file runs only in webaccel, on the CPU or WebGPU)\n"
    "  --hot-rows N: the N embedding rows the calibration text looks up most, stored again in q8_0 for the lookup\n"
    "  (webaccel's own; a tied embedding and --method gptq; with --adaptive the candidates' count,\n"
    "  default 1024, 0: none)";

Status write_text_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return io_error("cannot write '" + path + "'");
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return io_error("writing '" + path + "' failed");
  return Status::Ok();
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  Args args(argc, argv, 2, {"--adaptive", "--own-formats"});
  Status st = args.check_unknown({"--type", "--calib", "--calib-tokens", "--method", "--adaptive", "--budget-mb",
                                  "--bpw", "--plan-report", "--threads", "-t", "--own-formats", "--hot-rows"});
  if (!st.ok()) return fail(st);
  const bool adaptive = args.has("--adaptive");
  if (args.positional().size() != 2 || (!adaptive && !args.get("--type"))) {
    return fail(invalid_argument(std::string(kQuantizeUsage) + "\nTYPE: " + kConvertibleTypes));
  }
  if (adaptive && args.get("--type")) {
    return fail(invalid_argument("--type and --adaptive exclude each other: the adaptive planner chooses each matrix's type"));
  }
  if (!adaptive && (args.get("--budget-mb") || args.get("--bpw") || args.get("--plan-report") || args.has("--own-formats"))) {
    return fail(invalid_argument("--budget-mb, --bpw, --plan-report and --own-formats belong to --adaptive"));
  }
  if (adaptive && (args.get("--budget-mb").has_value() == args.get("--bpw").has_value())) {
    return fail(invalid_argument("--adaptive needs one budget: --budget-mb MB (the output file's size) or --bpw BITS "
                                 "(the weight matrices' average bits per weight)"));
  }
  auto hot_rows = args.get_int("--hot-rows", adaptive ? 1024 : 0, 0, 1 << 22);
  if (!hot_rows.ok()) return fail(hot_rows.status());
  if (args.get("--hot-rows")) {
    if (adaptive && !args.has("--own-formats")) {
      return fail(invalid_argument("--hot-rows with --adaptive needs --own-formats (hot rows are webaccel's own)"));
    }
    if (!args.get("--calib")) return fail(invalid_argument("--hot-rows needs a calibration text (--calib TEXT): it chooses the rows"));
    if (!adaptive && hot_rows.value() < 1) return fail(invalid_argument("--hot-rows must be at least 1 with --type"));
  }
  auto calib_tokens = args.get_int("--calib-tokens", 512, 16, 1 << 20);
  if (!calib_tokens.ok()) return fail(calib_tokens.status());
  auto threads_t = args.get_int("-t", 0, 0, 1024);
  if (!threads_t.ok()) return fail(threads_t.status());
  auto threads = args.get_int("--threads", threads_t.value(), 0, 1024);
  if (!threads.ok()) return fail(threads.status());
  const std::string& in = args.positional()[0];
  const std::string& out = args.positional()[1];
  const std::string calib_path = args.get_or("--calib", "");
  // With a calibration text the error-compensating quantizers are the default
  // (QUALITY-story-large.md: lowest KL divergence at every k-quant measured).
  auto method = parse_quantize_method(args.get_or("--method", calib_path.empty() ? "rtn" : "gptq"));
  if (!method.ok()) return fail(method.status());
  if (calib_path.empty() && method.value() != QuantizeMethod::rtn) {
    return fail(invalid_argument(std::string("--method ") + quantize_method_name(method.value()) +
                                 " needs a calibration text (--calib TEXT)"));
  }
  quant::CalibrationOptions co;
  co.max_tokens = static_cast<int>(calib_tokens.value());
  co.n_threads = static_cast<int>(threads.value());

  ConvertReport report;
  AdaptivePlan plan;
  DType type = DType::f32;
  if (adaptive) {
    AdaptiveOptions ao;
    auto mb = args.get_float("--budget-mb", 0.0, 1e-6, 1e9);
    if (!mb.ok()) return fail(mb.status());
    auto bpw = args.get_float("--bpw", 0.0, 0.01, 64.0);
    if (!bpw.ok()) return fail(bpw.status());
    ao.budget_bytes = static_cast<uint64_t>(std::floor(mb.value() * 1e6));
    if (args.get("--budget-mb") && ao.budget_bytes == 0) return fail(invalid_argument("--budget-mb is below one byte"));
    ao.bits_per_weight = bpw.value();
    ao.calib_path = calib_path;
    ao.method = method.value();
    ao.calib = co;
    ao.own_formats = args.has("--own-formats");
    ao.hot_rows = hot_rows.value();
    st = quantize_adaptive(in, out, ao, &report, &plan);
  } else {
    auto t = parse_type(*args.get("--type"));
    if (!t.ok()) return fail(t.status());
    type = t.value();
    QuantizeOptions qo;
    if (!calib_path.empty() && method.value() == QuantizeMethod::rtn) {
      return fail(invalid_argument("--method rtn with --calib only guides --adaptive; without --adaptive, drop --calib"));
    }
    if (!calib_path.empty()) {
      co.keep_predictions = false;  // only the importance vectors (and moments) are needed
      co.input_moments = method.value() == QuantizeMethod::gptq;
      auto calib = quant::Calibration::run(in, calib_path, co);
      if (!calib.ok()) return fail(calib.status());
      auto file = GgufFile::open(in);
      if (!file.ok()) return fail(file.status());
      st = calibrated_options(*calib.value(), method.value(), *file.value(), &qo);
      if (!st.ok()) return fail(st);
      if (hot_rows.value() > 0) {
        if (method.value() != QuantizeMethod::gptq) return fail(invalid_argument("--hot-rows needs --method gptq"));
        st = calibrated_hot_rows(*calib.value(), hot_rows.value(), &qo);
        if (!st.ok()) return fail(st);
      }
      std::fprintf(stderr, "calibration: %d tokens, importance of %zu matrices, error-compensating factors of %zu (--method %s)\n",
                   calib.value()->n_tokens(), qo.importance.size(), qo.gptq.size(), quantize_method_name(method.value()));
    }
    st = quantize_model(in, out, type, &report, qo);
  }
  print_notes(report);
  if (!st.ok()) return fail(st);
  if (!calib_path.empty()) {  // which quantizer wrote what (the quality report labels its rows by it)
    std::string how;
    for (const auto& [what, n] : report.methods) how += strformat("%s%s %d", how.empty() ? "" : ", ", what.c_str(), n);
    std::fprintf(stderr, "quantizers: %s\n", how.c_str());
  }
  // Sizes as written: both files' weight matrices measured from their tensor tables.
  auto before = GgufFile::open(in);
  auto after = GgufFile::open(out);
  if (!before.ok()) return fail(before.status());
  if (!after.ok()) return fail(after.status().with_context("reading back " + out));
  const WeightSize a = measure_weights(*before.value()), b = measure_weights(*after.value());
  const std::string label = adaptive ? "adaptive" : dtype_name(type);
  std::fprintf(stderr, "wrote %s (%s): %s, weights %s -> %s, %.3f -> %.3f bits per weight (%s)\n", out.c_str(),
               label.c_str(), format_bytes(after.value()->file_size()).c_str(), format_bytes(a.bytes).c_str(),
               format_bytes(b.bytes).c_str(), a.bits_per_weight(), b.bits_per_weight(), type_mix(b).c_str());
  if (adaptive) {
    std::fprintf(stderr, "plan: %s; file %llu bytes as written (planned %llu), %.4f bits per weight; estimated loss %.6g (%s); %.1f s\n",
                 plan.budget_text.c_str(), static_cast<unsigned long long>(after.value()->file_size()),
                 static_cast<unsigned long long>(plan.file_bytes), b.bits_per_weight(), plan.loss,
                 plan.loss_measure.c_str(), plan.seconds);
    if (after.value()->file_size() != plan.file_bytes) {
      return fail(internal_error("the file written differs in size from the plan"));
    }
    if (auto path = args.get("--plan-report")) {
      st = write_text_file(*path, plan_markdown(plan, in, out));
      if (!st.ok()) return fail(st);
      std::fprintf(stderr, "wrote plan %s\n", path->c_str());
    }
  }
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
