// The threaded image loader: worker threads decode and transform whole batches ahead of the
// training loop, into a bounded window of finished batches that is handed out in order.
//
//   epoch order (seeded shuffle) → batch b = order[b·B, (b+1)·B) → a worker decodes, transforms
//   and collates it → delivered as batch b, whichever worker finished first
//
// A batch's contents depend only on (seed, epoch, b), never on the number of workers or their
// timing. An image that cannot be read is skipped (its batch is one image shorter), reported
// once through the warning sink and kept in the summary; it never stops the epoch.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "datasets/decode.h"
#include "datasets/image_folder.h"
#include "datasets/transforms.h"

namespace moevit {

struct LoaderOptions {
  int64_t batch_size = 64;       // B, e.g. 64 or 256
  int64_t num_workers = 0;       // decoding threads; 0 = one per hardware thread
  int64_t prefetch_batches = 0;  // finished batches kept ahead; 0 = two per worker
  bool shuffle = true;           // a new seeded order every epoch; false = folder order
  bool drop_last = false;        // drop the last batch of the order if shorter than B
  TransformMode mode = TransformMode::kTrain;
  uint64_t seed = 0;  // shuffles and augmentations derive from it
  int64_t max_image_pixels = kDefaultMaxImagePixels;
  // Data parallel (torch's DistributedSampler): the epoch's batches b = 0, 1, ... are dealt
  // round robin, shard s taking b = s, s + num_shards, ...; the deal wraps around to the first
  // batches so that every shard takes the same number, ceil(batches / num_shards). All shards
  // share the seed, hence the order: step t of the shards together is batches t·num_shards to
  // t·num_shards + num_shards − 1, the batch one process with num_shards·batch_size would take.
  int64_t shard = 0;
  int64_t num_shards = 1;

  // Throws std::invalid_argument naming the field, e.g. "loader.batch_size: expected > 0, got 0".
  void check() const;
};

struct Batch {
  at::Tensor images;                    // [B,C,S,S] float; B < batch_size if images were skipped
  at::Tensor labels;                    // [B] int64
  std::vector<int64_t> sample_indices;  // [B] into ImageFolder::samples
  std::vector<std::string> paths;       // [B]
};

struct SkippedImage {
  std::string path;
  std::string reason;  // e.g. "PNG cut short: it does not end with an IEND chunk"
};

struct LoaderSummary {
  int64_t images_delivered = 0;       // over all epochs so far
  std::vector<SkippedImage> skipped;  // each unreadable file once, in the order found
};

// Receives one line per skipped file, "skipped PATH: REASON", from a worker thread; calls are
// serialised, so the sink need not be thread-safe. The loader itself prints nothing.
using WarningSink = std::function<void(const std::string& line)>;

class ImageLoader {
 public:
  // Checks both option structs and starts the workers (idle until start_epoch). Sets OpenCV to
  // run single-threaded (cv::setNumThreads(0), process-wide): the workers are the parallelism,
  // and OpenCV's own thread pool would compete with them and with LibTorch's.
  ImageLoader(ImageFolder folder, TransformOptions transform, LoaderOptions options,
              WarningSink warning_sink = nullptr);
  ~ImageLoader();  // stops and joins the workers, also in the middle of an epoch
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  // Starts (or restarts, abandoning what is left of the current one) the given epoch.
  void start_epoch(int64_t epoch);

  // The next batch of the epoch, std::nullopt after the last. Batches whose images were all
  // skipped are not returned. Rethrows an error that is not about one image (e.g. out of memory).
  std::optional<Batch> next_batch();

  int64_t batches_per_epoch() const;  // before skipping unreadable images
  const ImageFolder& folder() const;
  LoaderSummary summary() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace moevit
