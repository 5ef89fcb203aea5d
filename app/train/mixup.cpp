#include "app/train/mixup.h"

#include <algorithm>
#include <cmath>

namespace moevit {

namespace {

// Beta(alpha, alpha) as X / (X + Y) with X, Y ~ Gamma(alpha, 1).
double beta_sample(double alpha, std::mt19937& generator) {
  std::gamma_distribution<double> gamma(alpha, 1.0);
  const double x = gamma(generator), y = gamma(generator);
  return x + y > 0 ? x / (x + y) : 0.5;
}

}  // namespace

CutBox cutmix_box(int64_t image_height, int64_t image_width, double lambda,
                  std::mt19937& generator) {
  const double side = std::sqrt(1.0 - lambda);
  const auto cut_height = static_cast<int64_t>(image_height * side);
  const auto cut_width = static_cast<int64_t>(image_width * side);
  const int64_t centre_y = std::uniform_int_distribution<int64_t>(0, image_height - 1)(generator);
  const int64_t centre_x = std::uniform_int_distribution<int64_t>(0, image_width - 1)(generator);
  const auto clip = [](int64_t value, int64_t limit) {
    return std::clamp<int64_t>(value, 0, limit);
  };
  const int64_t top = clip(centre_y - cut_height / 2, image_height);
  const int64_t bottom = clip(centre_y + cut_height / 2, image_height);
  const int64_t left = clip(centre_x - cut_width / 2, image_width);
  const int64_t right = clip(centre_x + cut_width / 2, image_width);
  return {top, left, bottom - top, right - left};
}

torch::Tensor smoothed_one_hot(const torch::Tensor& labels, int64_t num_classes, double smoothing) {
  const double off = smoothing / static_cast<double>(num_classes);
  torch::Tensor targets =
      torch::full({labels.size(0), num_classes}, off, torch::TensorOptions().dtype(torch::kFloat));
  targets.scatter_(1, labels.to(torch::kLong).cpu().unsqueeze(1), 1.0 - smoothing + off);
  return targets.to(labels.device());
}

MixedBatch mix_batch(const torch::Tensor& images, const torch::Tensor& labels,
                     const MixupOptions& options, std::mt19937& generator) {
  MixedBatch mixed{images, {}, 1.0, false};
  const torch::Tensor own = smoothed_one_hot(labels, options.num_classes, options.label_smoothing);
  // Drawn in timm's order: whether to mix, then which of the two, then lambda.
  const bool mix = options.enabled() && std::bernoulli_distribution(options.probability)(generator);
  if (mix) {
    const bool both = options.mixup_alpha > 0 && options.cutmix_alpha > 0;
    mixed.cutmix = options.mixup_alpha <= 0 ||
                   (both && std::bernoulli_distribution(options.switch_probability)(generator));
    mixed.lambda =
        beta_sample(mixed.cutmix ? options.cutmix_alpha : options.mixup_alpha, generator);
  }
  if (mixed.lambda >= 1.0) {
    mixed.targets = own;
    return mixed;
  }
  const torch::Tensor mirror = images.flip(0);
  if (mixed.cutmix) {
    const CutBox box = cutmix_box(images.size(2), images.size(3), mixed.lambda, generator);
    mixed.images = images.clone();
    mixed.images.narrow(2, box.top, box.height)
        .narrow(3, box.left, box.width)
        .copy_(mirror.narrow(2, box.top, box.height).narrow(3, box.left, box.width));
    mixed.lambda = 1.0 - static_cast<double>(box.height * box.width) /
                             static_cast<double>(images.size(2) * images.size(3));
  } else {
    mixed.images = images * mixed.lambda + mirror * (1.0 - mixed.lambda);
  }
  mixed.targets = own * mixed.lambda + own.flip(0) * (1.0 - mixed.lambda);
  return mixed;
}

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return (-targets * torch::log_softmax(logits, /*dim=*/-1)).sum(-1).mean();
}

}  // namespace moevit
