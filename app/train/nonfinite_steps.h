// Steps whose loss or gradients are not finite (NaN, inf): how the training loop explains one
// (the MoE block whose router logits went non-finite), measures the gradients, and skips the
// step or stops the run (optim.skip_nonfinite). The loop (app/train/training.cpp) decides with
// every rank alike: a non-finite loss on any rank skips the step on all of them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moevit {

class VisionTransformerImpl;
struct Runtime;
struct Trainer;

// The first MoE block (its 0-based id) whose router gives non-finite gates for `inputs`
// [B,C,H,W], or nullopt: the block whose router logits went non-finite (NaN logits, or
// infinite ones under softmax gating; a non-finite input reaches every block after it, so the
// first is the one to look at). Runs the model again on `inputs` in eval mode without
// gradients, so it draws no random number and joins no collective, then puts training mode
// back.
std::optional<int64_t> first_nonfinite_router(VisionTransformerImpl& model,
                                              const torch::Tensor& inputs, const Runtime& runtime);

// Why a micro-batch's loss is `loss` (not finite), in a phrase for the step's message:
// "loss is nan", then, when first_nonfinite_router finds one, "; the router logits of MoE block
// 3 are the first non-finite (its router weights are non-finite)" (the parenthesis only when
// they are).
std::string explain_nonfinite_loss(double loss, VisionTransformerImpl& model,
                                   const torch::Tensor& inputs, const Runtime& runtime);

// Why a step whose loss was finite is skipped: "loss is 2.3026 but the gradient norm is nan".
std::string explain_nonfinite_gradients(double loss, double gradient_norm);

// The global L2 norm of the gradients of `parameters` (those without a gradient left out),
// first clipping them to `max_norm` when it is > 0 (optim.grad_clip); NaN or inf when any
// gradient element is.
double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm);

// A step whose loss or gradients are not finite (`finding` says which, e.g. from
// explain_nonfinite_loss), to be taken without an update: weights, optimizer state, moving
// average and balancing biases stay as they were (this step's expert counts are dropped), the
// position moves on, trainer.skipped_steps counts it. Returns the line to print; past
// optim.skip_nonfinite such steps throws std::runtime_error instead, naming the step, the
// finding and the last good checkpoint.
std::string skip_nonfinite_step(Trainer& trainer, const std::string& finding);

}  // namespace moevit
