// The token-choice dispatch and combine as two fused CPU kernels, each one pass over the rows
// with its own backward, instead of zeros + index_select + index_copy (dispatch) and
// index_select + mul + zeros + index_add (combine), each op a pass of its own with a backward of
// its own. The plan's two maps make every loop free of write conflicts:
//   token_of_slot  [R = E·G·C]   the token row (g·S + s) a buffer row holds, or -1 (empty slot)
//   slot_of_choice [T = G·S, K]  the buffer row a token's k-th choice went to, or -1 (dropped)
// Rows are shared out over LibTorch's threads; sums run in float whatever the tensors' dtype.
#pragma once

#include <ATen/ATen.h>

namespace moevit {

// tokens [T, D] → buffers [R, D]: row r = tokens[token_of_slot[r]], zeros where -1.
// Differentiable in tokens: grad_tokens[t] = Σ_k grad[slot_of_choice[t, k]].
at::Tensor gather_slots(const at::Tensor& tokens, const at::Tensor& token_of_slot,
                        const at::Tensor& slot_of_choice);

// buffers [R, D], weights [T, K] → tokens [T, D] float: row t = Σ_k weights[t, k] ·
// buffers[slot_of_choice[t, k]] over the kept choices. Differentiable in buffers and weights.
at::Tensor combine_slots(const at::Tensor& buffers, const at::Tensor& weights,
                         const at::Tensor& slot_of_choice);

}  // namespace moevit
