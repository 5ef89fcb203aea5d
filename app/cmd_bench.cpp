// moevit bench --config F [--set ...] [--steps N] [--warmup N] [--batch N] [--experts 8,32]
//              [--profile TRACE.json] [--loader DIR] [--json]
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/perf/benchmark.h"
#include "app/perf/layer_benchmark.h"
#include "app/perf/loader_benchmark.h"
#include "app/run/config.h"

namespace moevit {

namespace {

void print_layer_parts(const LayerPartTimes& parts, int64_t batch_size) {
  std::printf("  one block, forward + backward, ms per batch of %lld:\n", (long long)batch_size);
  std::printf("    attention  %7.2f ms\n    dense FFN  %7.2f ms\n", parts.attention_ms,
              parts.dense_ffn_ms);
  if (!parts.has_moe()) return;
  std::printf(
      "    MoE layer  %7.2f ms  (%.2f x dense FFN): router %.2f, dispatch %.2f, experts %.2f, "
      "combine %.2f\n",
      parts.moe_layer_ms, parts.moe_over_dense(), parts.router_ms, parts.dispatch_ms,
      parts.experts_ms, parts.combine_ms);
}

// --experts 4,8,16 → {4, 8, 16}.
std::vector<int64_t> expert_counts(const std::string& text) {
  const std::invalid_argument refusal(
      "bench: --experts: expected expert counts >= 1 separated by commas (e.g. 4,8,16), got '" +
      text + "'");
  std::vector<int64_t> counts;
  for (const std::string& item : comma_list(text)) {
    char* end = nullptr;
    const long long count = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || count < 1) throw refusal;
    counts.push_back(count);
  }
  if (counts.empty()) throw refusal;
  return counts;
}

}  // namespace

int run_bench(const CommandArgs& args) {
  cxxopts::Options parser("moevit bench",
                          "Training-step and inference throughput of a config's model on "
                          "synthetic inputs, against the GEMM peak measured in the same run.");
  add_run_options(parser);
  parser.add_options()("steps", "timed steps", cxxopts::value<int64_t>()->default_value("10"))(
      "warmup", "untimed steps first", cxxopts::value<int64_t>()->default_value("2"))(
      "batch", "images per step (default: optim.batch_size)", cxxopts::value<int64_t>())(
      "experts",
      "also time the MoE layer against the dense FFN for each of these expert counts (e.g. 4,8,16)",
      cxxopts::value<std::string>())(
      "profile", "write a Chrome trace of --steps more training steps to this file",
      cxxopts::value<std::string>())(
      "loader",
      "also time the loader on this data root's training images (the config's transforms, "
      "data.workers), alone and feeding training steps",
      cxxopts::value<std::string>())("json", "print one JSON object");
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("config"))
    throw std::invalid_argument("bench: --config FILE is required (e.g. configs/fmnist-soft.yaml)");
  const Config config = load_config(options["config"].as<std::string>(), run_overrides(options));
  const std::vector<int64_t> experts = options.count("experts")
                                           ? expert_counts(options["experts"].as<std::string>())
                                           : std::vector<int64_t>{};
  BenchOptions bench;
  bench.steps = options["steps"].as<int64_t>();
  bench.warmup_steps = options["warmup"].as<int64_t>();
  bench.batch_size =
      options.count("batch") ? options["batch"].as<int64_t>() : config.optim.batch_size;
  if (options.count("profile")) bench.profile_path = options["profile"].as<std::string>();
  if (bench.steps < 1 || bench.warmup_steps < 0 || bench.batch_size < 1)
    throw std::invalid_argument("bench: expected --steps >= 1, --warmup >= 0, --batch >= 1");

  // Scanned before any timing, so a wrong folder is refused at once.
  std::optional<ImageFolder> loader_folder;
  if (options.count("loader"))
    loader_folder = resolve_train_val(options["loader"].as<std::string>(), config.data.val_split,
                                      static_cast<uint64_t>(config.run.seed))
                        .train;

  std::string warning;
  const Runtime runtime = configure_runtime(config.run, &warning);
  if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
  const ThroughputResult result = measure_throughput(config.model, runtime, bench);
  const LayerPartTimes parts = measure_layer_parts(config.model, runtime, bench);
  const std::vector<std::pair<int64_t, double>> ratios =
      experts.empty() ? std::vector<std::pair<int64_t, double>>{}
                      : moe_over_dense_by_experts(config.model, runtime, bench, experts);
  const bool bf16_native = runtime.device.is_cuda() || cpu_supports_bf16();
  const double peak_fp32 = measure_gemm_gflops(runtime, /*bf16=*/false);
  const double peak_bf16 = bf16_native ? measure_gemm_gflops(runtime, /*bf16=*/true) : 0.0;
  const double peak = runtime.precision == Precision::kBf16 ? peak_bf16 : peak_fp32;
  // Training costs ~3 forward passes of matrix products (forward, input and weight gradients).
  const double train_gflops =
      3 * result.forward_flops_per_image * result.train_images_per_second / 1e9;
  const double infer_gflops =
      result.forward_flops_per_image * result.inference_images_per_second / 1e9;

  nlohmann::json summary = {
      {"config", config.source},
      {"router", to_string(config.model.moe.router)},
      {"device", runtime.device.is_cuda() ? "cuda" : "cpu"},
      {"threads", runtime.threads},
      {"precision", to_string(runtime.precision)},
      {"machine", runtime.description},
      {"batch", bench.batch_size},
      {"steps", bench.steps},
      {"train_img_s", result.train_images_per_second},
      {"infer_img_s", result.inference_images_per_second},
      {"forward_gflop_per_image", result.forward_flops_per_image / 1e9},
      {"train_gflop_s", train_gflops},
      {"infer_gflop_s", infer_gflops},
      {"gemm_peak_fp32_gflop_s", peak_fp32},
      {"gemm_peak_bf16_gflop_s", peak_bf16},
      {"train_fraction_of_peak", peak > 0 ? train_gflops / peak : 0.0},
      {"infer_with_routing_img_s", result.inference_with_routing_images_per_second},
      {"parts_ms",
       {{"attention", parts.attention_ms},
        {"dense_ffn", parts.dense_ffn_ms},
        {"router", parts.router_ms},
        {"dispatch", parts.dispatch_ms},
        {"experts", parts.experts_ms},
        {"combine", parts.combine_ms},
        {"moe_layer", parts.moe_layer_ms}}},
      {"moe_over_dense_ffn", parts.moe_over_dense()}};
  for (const auto& [experts, ratio] : ratios)
    summary["moe_over_dense_ffn_by_experts"][std::to_string(experts)] = ratio;
  std::optional<LoaderThroughput> loader;
  if (loader_folder) {
    loader = measure_loader_throughput(config, runtime, bench, *loader_folder);
    summary["loader_img_s"] = loader->loader_images_per_second;
    summary["train_with_loader_img_s"] = loader->train_with_loader_images_per_second;
    summary["loader_workers"] = loader->workers;
  }
  if (options.count("json")) {
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  }
  std::printf("bench %s (%s): %s, batch %lld, %lld steps\n", config.source.c_str(),
              to_string(config.model.moe.router).c_str(), runtime.description.c_str(),
              (long long)bench.batch_size, (long long)bench.steps);
  std::printf("  train      %8.1f img/s  %7.1f GFLOP/s (%.0f%% of the %s GEMM peak)\n",
              result.train_images_per_second, train_gflops,
              100 * summary["train_fraction_of_peak"].get<double>(),
              to_string(runtime.precision).c_str());
  std::printf("  inference  %8.1f img/s  %7.1f GFLOP/s  (keeping routing plans: %.1f img/s)\n",
              result.inference_images_per_second, infer_gflops,
              result.inference_with_routing_images_per_second);
  print_layer_parts(parts, bench.batch_size);
  for (const auto& [experts, ratio] : ratios)
    std::printf("  E = %-4lld    MoE layer / dense FFN %.2f\n", (long long)experts, ratio);
  if (loader)
    std::printf(
        "  loader     %8.1f img/s alone (%lld workers); training fed by it %.1f img/s "
        "(synthetic inputs: %.1f)\n",
        loader->loader_images_per_second, (long long)loader->workers,
        loader->train_with_loader_images_per_second, result.train_images_per_second);
  std::printf("  GEMM peak  fp32 %.0f GFLOP/s, bf16 %s (1024x1024 products, this run)\n", peak_fp32,
              bf16_native ? (std::to_string(static_cast<int64_t>(peak_bf16)) + " GFLOP/s").c_str()
                          : "not native here");
  return 0;
}

}  // namespace moevit
