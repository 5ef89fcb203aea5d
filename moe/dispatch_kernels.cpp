#include "moe/dispatch_kernels.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <cstring>

namespace moevit {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per parallel task: enough that the thread hand-off is small next to the copying.
int64_t row_grain(int64_t width) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width));
}

// out[r] = rows[index[r]] (zeros where index[r] < 0). rows [n, D] contiguous.
at::Tensor gather_rows(const at::Tensor& rows, const at::Tensor& index) {
  const int64_t width = rows.size(1), count = index.size(0);
  at::Tensor out = at::empty({count, width}, rows.options());
  const int64_t* source = index.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, rows.scalar_type(), "gather_rows", [&] {
    const scalar_t* in = rows.data_ptr<scalar_t>();
    scalar_t* result = out.data_ptr<scalar_t>();
    at::parallel_for(0, count, row_grain(width), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        scalar_t* target = result + row * width;
        if (source[row] < 0)
          std::memset(target, 0, sizeof(scalar_t) * width);
        else
          std::memcpy(target, in + source[row] * width, sizeof(scalar_t) * width);
      }
    });
  });
  return out;
}

// out[t] = Σ_k weight[t, k] · rows[slots[t, k]] over slots >= 0 (undefined weights: weight 1),
// in `out_type`.
template <typename out_t>
at::Tensor weighted_sum_rows(const at::Tensor& rows, const at::Tensor& slots,
                             const at::Tensor& weights) {
  const int64_t width = rows.size(1), count = slots.size(0), choices = slots.size(1);
  at::Tensor out =
      at::empty({count, width}, rows.options().dtype(c10::CppTypeToScalarType<out_t>::value));
  const int64_t* slot = slots.data_ptr<int64_t>();
  const float* weight = weights.defined() ? weights.data_ptr<float>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, rows.scalar_type(), "sum_rows", [&] {
    const scalar_t* in = rows.data_ptr<scalar_t>();
    out_t* result = out.data_ptr<out_t>();
    at::parallel_for(0, count, row_grain(width), [&](int64_t begin, int64_t end) {
      std::vector<float> sum(width);
      for (int64_t token = begin; token < end; ++token) {
        std::fill(sum.begin(), sum.end(), 0.0f);
        for (int64_t choice = 0; choice < choices; ++choice) {
          const int64_t row = slot[token * choices + choice];
          if (row < 0) continue;
          const float w = weight ? weight[token * choices + choice] : 1.0f;
          const scalar_t* source = in + row * width;
          for (int64_t d = 0; d < width; ++d) sum[d] += w * static_cast<float>(source[d]);
        }
        out_t* target = result + token * width;
        for (int64_t d = 0; d < width; ++d) target[d] = static_cast<out_t>(sum[d]);
      }
    });
  });
  return out;
}

struct GatherSlots : public torch::autograd::Function<GatherSlots> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& tokens,
                            const at::Tensor& token_of_slot, const at::Tensor& slot_of_choice) {
    context->save_for_backward({slot_of_choice});
    return gather_rows(tokens, token_of_slot);
  }
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const at::Tensor slot_of_choice = context->get_saved_variables()[0];
    const at::Tensor grad = grads[0].contiguous();
    at::Tensor grad_tokens;
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kBFloat16, at::kHalf, grad.scalar_type(), "gather_bwd",
        [&] { grad_tokens = weighted_sum_rows<scalar_t>(grad, slot_of_choice, {}); });
    return {grad_tokens, at::Tensor(), at::Tensor()};
  }
};

struct CombineSlots : public torch::autograd::Function<CombineSlots> {
  static at::Tensor forward(AutogradContext* context, const at::Tensor& buffers,
                            const at::Tensor& weights, const at::Tensor& slot_of_choice) {
    context->save_for_backward({buffers, weights, slot_of_choice});
    // float out: the sum is kept in float, and the residual it joins is float anyway.
    return weighted_sum_rows<float>(buffers, slot_of_choice, weights);
  }
  // grad_buffers[slot(t, k)] = weight(t, k) · grad[t] (every buffer row has one owner; empty
  // rows get 0); grad_weights[t, k] = grad[t] · buffers[slot(t, k)].
  static variable_list backward(AutogradContext* context, variable_list grads) {
    const auto saved = context->get_saved_variables();
    const at::Tensor &buffers = saved[0], &weights = saved[1], &slots = saved[2];
    const at::Tensor grad = grads[0].to(at::kFloat).contiguous();
    const int64_t width = buffers.size(1), count = slots.size(0), choices = slots.size(1);
    at::Tensor grad_buffers = at::zeros_like(buffers);
    at::Tensor grad_weights = at::zeros_like(weights);
    const int64_t* slot = slots.data_ptr<int64_t>();
    const float* weight = weights.data_ptr<float>();
    float* weight_grad = grad_weights.data_ptr<float>();
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kBFloat16, at::kHalf, buffers.scalar_type(), "combine_bwd", [&] {
          const scalar_t* in = buffers.data_ptr<scalar_t>();
          const float* upstream = grad.data_ptr<float>();
          scalar_t* buffer_grad = grad_buffers.data_ptr<scalar_t>();
          at::parallel_for(0, count, row_grain(width), [&](int64_t begin, int64_t end) {
            for (int64_t token = begin; token < end; ++token)
              for (int64_t choice = 0; choice < choices; ++choice) {
                const int64_t index = token * choices + choice, row = slot[index];
                if (row < 0) continue;
                const float* g = upstream + token * width;
                const scalar_t* source = in + row * width;
                scalar_t* target = buffer_grad + row * width;
                float dot = 0;
                for (int64_t d = 0; d < width; ++d) {
                  const float gd = g[d];
                  target[d] = static_cast<scalar_t>(weight[index] * gd);
                  dot += gd * static_cast<float>(source[d]);
                }
                weight_grad[index] = dot;
              }
          });
        });
    return {grad_buffers, grad_weights, at::Tensor()};
  }
};

}  // namespace

at::Tensor gather_slots(const at::Tensor& tokens, const at::Tensor& token_of_slot,
                        const at::Tensor& slot_of_choice) {
  return GatherSlots::apply(tokens.contiguous(), token_of_slot.contiguous(),
                            slot_of_choice.contiguous());
}

at::Tensor combine_slots(const at::Tensor& buffers, const at::Tensor& weights,
                         const at::Tensor& slot_of_choice) {
  return CombineSlots::apply(buffers.contiguous(), weights.to(at::kFloat).contiguous(),
                             slot_of_choice.contiguous());
}

}  // namespace moevit
