// moevit bench --config F [--set ...] [--steps N] [--warmup N] [--batch N] [--json]
#include <nlohmann/json.hpp>

#include <cstdio>

#include "app/benchmark.h"
#include "app/cli_options.h"
#include "app/commands.h"
#include "app/config.h"

namespace moevit {

int run_bench(const CommandArgs& args) {
  cxxopts::Options parser("moevit bench",
                          "Training-step and inference throughput of a config's model on "
                          "synthetic inputs, against the GEMM peak measured in the same run.");
  add_run_options(parser);
  parser.add_options()("steps", "timed steps", cxxopts::value<int64_t>()->default_value("10"))(
      "warmup", "untimed steps first", cxxopts::value<int64_t>()->default_value("2"))(
      "batch", "images per step (default: optim.batch_size)", cxxopts::value<int64_t>())(
      "json", "print one JSON object");
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("config"))
    throw std::invalid_argument("bench: --config FILE is required (e.g. configs/fmnist-soft.yaml)");
  const Config config = load_config(options["config"].as<std::string>(), run_overrides(options));
  BenchOptions bench;
  bench.steps = options["steps"].as<int64_t>();
  bench.warmup_steps = options["warmup"].as<int64_t>();
  bench.batch_size =
      options.count("batch") ? options["batch"].as<int64_t>() : config.optim.batch_size;
  if (bench.steps < 1 || bench.warmup_steps < 0 || bench.batch_size < 1)
    throw std::invalid_argument("bench: expected --steps >= 1, --warmup >= 0, --batch >= 1");

  std::string warning;
  const Runtime runtime = configure_runtime(config.run, &warning);
  if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
  const ThroughputResult result = measure_throughput(config.model, runtime, bench);
  const bool bf16_native = runtime.device.is_cuda() || cpu_supports_bf16();
  const double peak_fp32 = measure_gemm_gflops(runtime, /*bf16=*/false);
  const double peak_bf16 = bf16_native ? measure_gemm_gflops(runtime, /*bf16=*/true) : 0.0;
  const double peak = runtime.precision == Precision::kBf16 ? peak_bf16 : peak_fp32;
  // Training costs ~3 forward passes of matrix products (forward, input and weight gradients).
  const double train_gflops =
      3 * result.forward_flops_per_image * result.train_images_per_second / 1e9;
  const double infer_gflops =
      result.forward_flops_per_image * result.inference_images_per_second / 1e9;

  nlohmann::json summary = {{"config", config.source},
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
                            {"train_fraction_of_peak", peak > 0 ? train_gflops / peak : 0.0}};
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
  std::printf("  inference  %8.1f img/s  %7.1f GFLOP/s\n", result.inference_images_per_second,
              infer_gflops);
  std::printf("  GEMM peak  fp32 %.0f GFLOP/s, bf16 %s (1024x1024 products, this run)\n", peak_fp32,
              bf16_native ? (std::to_string(static_cast<int64_t>(peak_bf16)) + " GFLOP/s").c_str()
                          : "not native here");
  return 0;
}

}  // namespace moevit
