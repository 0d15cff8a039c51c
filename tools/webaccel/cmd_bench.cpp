// webaccel bench: llama-bench-style throughput rows. pp<N> evaluates N random
// tokens in one batch from an empty context; tg<N> generates N tokens one at a
// time from an empty context. Each test runs once to warm up, then -r times;
// rows report mean +- sample standard deviation of tokens per second.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <numeric>

#include "backends/cpu/kernels.h"
#include "model_setup.h"
#include "runtime/bench_workload.h"

namespace wa::cli {
namespace {

struct Row {
  std::string test;
  int n_prompt = 0, n_gen = 0;
  std::vector<double> samples_ns;
  std::vector<double> samples_ts;
  double mean_ts() const { return std::accumulate(samples_ts.begin(), samples_ts.end(), 0.0) / samples_ts.size(); }
  double sd_ts() const {
    if (samples_ts.size() < 2) return 0.0;
    const double m = mean_ts();
    double s = 0;
    for (double x : samples_ts) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(samples_ts.size() - 1));
  }
  double mean_ns() const { return std::accumulate(samples_ns.begin(), samples_ns.end(), 0.0) / samples_ns.size(); }
};

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  Status st = args.check_unknown({"-m", "--model", "-p", "-n", "-r", "-t", "--threads", "-o", "--kv-type"});
  if (!st.ok()) return fail(st);
  auto eo = engine_options(args);
  if (!eo.ok()) return fail(eo.status());
  auto n_prompt = args.get_int("-p", 512, 0, 1 << 16);
  auto n_gen = args.get_int("-n", 128, 0, 1 << 16);
  auto reps = args.get_int("-r", 5, 1, 1000);
  for (const Status* s : {&n_prompt.status(), &n_gen.status(), &reps.status()}) {
    if (!s->ok()) return fail(*s);
  }
  const std::string fmt = args.get_or("-o", "md");
  if (fmt != "md" && fmt != "json") return fail(invalid_argument("-o must be md or json"));
  EngineOptions o = eo.value();
  if (o.kv_type == "auto") o.kv_type = "f16";  // as llama-bench
  o.n_ctx = static_cast<int>(std::max<long long>(n_prompt.value() + n_gen.value(), 16));
  auto engine = open_engine(o);
  if (!engine.ok()) return fail(engine.status());
  Engine& e = *engine.value();

  std::vector<Row> rows;
  if (n_prompt.value() > 0) rows.push_back({"pp" + std::to_string(n_prompt.value()), static_cast<int>(n_prompt.value()), 0});
  if (n_gen.value() > 0) rows.push_back({"tg" + std::to_string(n_gen.value()), 0, static_cast<int>(n_gen.value())});
  for (Row& r : rows) {
    double secs = 0;
    st = time_prompt_and_generation(*e.session, r.n_prompt, std::min(r.n_gen, 8), &secs);  // warm-up
    if (!st.ok()) return fail(st);
    for (long long i = 0; i < reps.value(); ++i) {
      st = time_prompt_and_generation(*e.session, r.n_prompt, r.n_gen, &secs);
      if (!st.ok()) return fail(st);
      r.samples_ns.push_back(secs * 1e9);
      r.samples_ts.push_back((r.n_prompt + r.n_gen) / secs);
    }
  }

  size_t size = 0;
  for (const auto& t : e.loaded.file->tensors()) size += t.size_bytes;
  const std::string model_path = o.model_path;
  const std::string ftype = dtype_name(e.loaded.model->weight_type());
  const std::string backend = std::string("cpu (") + cpu::isa_name(cpu::active_isa()) + ")";
  const int64_t params = e.loaded.model->n_params();
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));

  if (fmt == "md") {
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    for (const Row& r : rows) {
      std::printf("| %s %s | %s | %.2f B | %s | %d | %s | %.2f ± %.2f |\n", e.loaded.model->arch().c_str(),
                  ftype.c_str(), format_bytes(size).c_str(), static_cast<double>(params) / 1e9, backend.c_str(),
                  e.n_threads, r.test.c_str(), r.mean_ts(), r.sd_ts());
    }
    std::printf("\nwebaccel, %s, %s, %s\n", cpu_model().c_str(), model_path.c_str(), date);
    return 0;
  }
  // JSON: the field names of llama-bench's JSON output, so one parser reads both.
  std::printf("[\n");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    double sd_ns = 0;
    for (double x : r.samples_ns) sd_ns += (x - r.mean_ns()) * (x - r.mean_ns());
    sd_ns = r.samples_ns.size() > 1 ? std::sqrt(sd_ns / static_cast<double>(r.samples_ns.size() - 1)) : 0;
    std::printf("  {\"engine\": \"webaccel\", \"cpu_info\": \"%s\", \"backends\": \"%s\", \"model_filename\": \"%s\", "
                "\"model_type\": \"%s %s\", \"model_size\": %zu, \"model_n_params\": %lld, \"n_threads\": %d, "
                "\"type_k\": \"f16\", \"type_v\": \"f16\", \"n_prompt\": %d, \"n_gen\": %d, \"test_time\": \"%s\", "
                "\"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"samples_ns\": [",
                json_escape(cpu_model()).c_str(), json_escape(backend).c_str(), json_escape(model_path).c_str(),
                e.loaded.model->arch().c_str(), ftype.c_str(), size, static_cast<long long>(params), e.n_threads,
                r.n_prompt, r.n_gen, date, r.mean_ns(), sd_ns, r.mean_ts(), r.sd_ts());
    for (size_t j = 0; j < r.samples_ns.size(); ++j) std::printf("%s%.0f", j ? ", " : "", r.samples_ns[j]);
    std::printf("], \"samples_ts\": [");
    for (size_t j = 0; j < r.samples_ts.size(); ++j) std::printf("%s%.6f", j ? ", " : "", r.samples_ts[j]);
    std::printf("]}%s\n", i + 1 < rows.size() ? "," : "");
  }
  std::printf("]\n");
  return 0;
}

}  // namespace wa::cli
