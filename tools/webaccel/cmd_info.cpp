// webaccel info: what a GGUF file holds.
#include <cstdio>

#include "formats/convert.h"
#include "formats/gguf.h"
#include "model_setup.h"
#include "tokenizers/tokenizer.h"

namespace wa::cli {
namespace {

std::string value_text(const GgufValue& v) {
  switch (v.type) {
    case GgufType::string: {
      std::string s(v.str.substr(0, 120));
      for (char& c : s) {
        if (c == '\n') c = ' ';
      }
      return "\"" + s + (v.str.size() > 120 ? "...\"" : "\"");
    }
    case GgufType::array:
      return strformat("[%s x %llu]", gguf_type_name(v.array_type), static_cast<unsigned long long>(v.array_count));
    case GgufType::f32: case GgufType::f64: return strformat("%g", v.f);
    case GgufType::boolean: return v.u ? "true" : "false";
    case GgufType::u64: return std::to_string(v.u);
    default: return std::to_string(v.i);
  }
}

}  // namespace

int cmd_info(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown({"-m", "--model"});
  if (!st.ok()) return fail(st);
  std::string path = args.get_or("-m", "");
  if (path.empty() && !args.positional().empty()) path = args.positional()[0];
  if (path.empty()) return fail(invalid_argument("usage: webaccel info MODEL"));
  auto file = GgufFile::open(path);
  if (!file.ok()) return fail(file.status());
  const GgufFile& f = *file.value();
  std::printf("file: %s\nformat: GGUF v%u, %zu bytes, %zu metadata entries, %zu tensors, data at offset %zu\n",
              path.c_str(), f.version(), f.file_size(), f.metadata().size(), f.tensors().size(), f.data_offset());
  std::printf("\nmetadata:\n");
  for (const auto& kv : f.metadata()) std::printf("  %-44s %s\n", kv.key.c_str(), value_text(kv.value).c_str());

  std::printf("\ntensors:\n  %-36s %-6s %-24s %12s\n", "name", "type", "shape", "bytes");
  size_t total = 0;
  int64_t params = 0;
  for (const auto& t : f.tensors()) {
    std::string shape;
    for (int d = 0; d < t.n_dims; ++d) shape += (d ? " x " : "") + std::to_string(t.ne[d]);
    std::printf("  %-36s %-6s %-24s %12llu\n", t.name.c_str(), dtype_name(t.type), shape.c_str(),
                static_cast<unsigned long long>(t.size_bytes));
    total += t.size_bytes;
    params += t.n_elements();
  }
  std::printf("  total: %s in tensors, %lld parameters, %.2f bits per weight\n", format_bytes(total).c_str(),
              static_cast<long long>(params), params ? 8.0 * static_cast<double>(total) / static_cast<double>(params) : 0.0);
  // Measured from the tensor table: bytes as stored (block scales included) * 8 / weights.
  const WeightSize ws = measure_weights(f);
  std::printf("  weight matrices: %d, %lld weights, %s, %.4f bits per weight (measured: bytes * 8 / weights)\n",
              ws.n_matrices, static_cast<long long>(ws.n_weights), format_bytes(ws.bytes).c_str(), ws.bits_per_weight());
  for (const auto& [t, n] : ws.weights_by_type) {
    std::printf("    %-6s %5.1f%% of the weights\n", dtype_name(t), 100.0 * static_cast<double>(n) / static_cast<double>(ws.n_weights));
  }
  if (ws.hot_rows > 0) {
    std::printf("    + %lld hot rows in %s (a second copy of embedding rows for the lookup; webaccel's own): %s, "
                "%.4f of the bits per weight above\n",
                static_cast<long long>(ws.hot_rows), dtype_name(ws.hot_type), format_bytes(ws.hot_bytes).c_str(),
                ws.n_weights ? 8.0 * static_cast<double>(ws.hot_bytes) / static_cast<double>(ws.n_weights) : 0.0);
  }

  // Print everything we can read; a model or tokenizer that cannot be used is
  // reported at the end as the command's error.
  Status usable = Status::Ok();
  if (f.get_string("general.architecture")) {
    MemoryTracker tracker;
    auto model = create_model(f, &tracker);
    if (model.ok()) {
      std::printf("\nmodel:\n");
      for (const auto& [k, v] : model.value()->describe()) std::printf("  %-16s %s\n", k.c_str(), v.c_str());
    } else {
      std::printf("\nmodel: cannot run: %s\n", model.status().to_string().c_str());
      usable = model.status();
    }
  }
  if (f.find("tokenizer.ggml.model")) {
    auto tok = Tokenizer::from_gguf(f);
    if (tok.ok()) {
      const Tokenizer& t = *tok.value();
      std::printf("\ntokenizer: %s, %d tokens, bos %d, eos %d, adds bos: %s\n", tokenizer_kind_name(t.kind()),
                  t.n_vocab(), t.bos_id(), t.eos_id(), t.add_bos_by_default() ? "yes" : "no");
    } else {
      std::printf("\ntokenizer: cannot load: %s\n", tok.status().to_string().c_str());
      if (usable.ok()) usable = tok.status();
    }
  } else {
    std::printf("\ntokenizer: none in this file\n");
  }
  return usable.ok() ? 0 : fail(usable.with_context(path));
}

}  // namespace wa::cli
