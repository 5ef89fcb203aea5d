// `moevit train --init FILE`: a fresh run's first weights taken from a moevit checkpoint or a timm
// ViT safetensors file (app/pretrained/timm_checkpoint.h), adapted to the run's model:
//   another image size      the position embeddings resampled (position_resample.h)
//   another num_classes     the run's fresh head kept
//   a dense block now MoE   its experts (and shared experts) copies of the dense FFN
//                           (upcycle.h); its router, and its balancing biases, fresh
// Every other parameter must be in the file under its name with its shape, and every tensor of
// the file must find a place: otherwise the run is refused naming the tensor, never started
// half-initialised. The optimizer state is not read: it starts fresh.
#pragma once

#include <string>
#include <vector>

namespace moevit {

class VisionTransformerImpl;

// Copies into `model` (any device) and returns one line per adaptation for the run's log, e.g.
// "init: a fresh head (3 classes; the file's has 1000)". A path ending in .safetensors is read
// as a timm file (its heads: the model's), anything else as a moevit checkpoint (the weights
// load_model's auto picks).
std::vector<std::string> initialize_from(const std::string& path, VisionTransformerImpl& model);

}  // namespace moevit
