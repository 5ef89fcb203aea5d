#include "datasets/loader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <thread>
#include <utility>

#include "datasets/buffer_pool.h"
#include "datasets/seeded_generator.h"

namespace moevit {
namespace {

// decode_image's messages start with the path; the summary keeps path and reason apart.
std::string reason_without_path(const std::string& message, const std::string& path) {
  const std::string prefix = path + ": ";
  return message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
}

// Batches of one epoch before sharding.
int64_t unsharded_batches(const LoaderOptions& options, const ImageFolder& folder) {
  const int64_t num_samples = static_cast<int64_t>(folder.samples.size());
  return options.drop_last ? num_samples / options.batch_size
                           : (num_samples + options.batch_size - 1) / options.batch_size;
}

}  // namespace

void LoaderOptions::check() const {
  const auto require = [](bool condition, const char* field, const char* expected, int64_t got) {
    if (!condition)
      throw std::invalid_argument(std::string("loader.") + field + ": expected " + expected +
                                  ", got " + std::to_string(got));
  };
  require(batch_size > 0, "batch_size", "> 0", batch_size);
  require(num_workers >= 0, "num_workers", ">= 0 (0: one per hardware thread)", num_workers);
  require(prefetch_batches >= 0, "prefetch_batches", ">= 0 (0: two per worker)", prefetch_batches);
  require(max_image_pixels > 0, "max_image_pixels", "> 0", max_image_pixels);
  require(num_shards > 0, "num_shards", "> 0", num_shards);
  require(shard >= 0 && shard < num_shards, "shard", "0 <= shard < num_shards", shard);
}

struct ImageLoader::State {
  ImageFolder folder;
  TransformOptions transform;
  LoaderOptions options;
  WarningSink warning_sink;
  int64_t prefetch_batches = 0;
  std::shared_ptr<BufferPool> image_buffers;  // one [B,C,S,S] float buffer per batch

  // Everything below is guarded by `mutex`, except the atomics.
  mutable std::mutex mutex;
  std::condition_variable work_available;  // workers: a batch to claim, or stop
  std::condition_variable batch_finished;  // consumer: the next batch, or a failure
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> generation{0};  // bumped by start_epoch; older work is dropped
  int64_t epoch = 0;
  bool epoch_started = false;
  std::vector<int64_t> order;  // sample indices of this epoch
  int64_t num_batches = 0;
  int64_t next_to_claim = 0;
  int64_t next_to_deliver = 0;
  std::map<int64_t, Batch> finished;  // by batch number, waiting to be delivered
  std::exception_ptr failure;
  std::vector<bool> known_unreadable;  // by sample index: skipped quietly after the first time
  LoaderSummary summary;
  std::mutex sink_mutex;  // serialises warning_sink calls without holding `mutex`
  std::vector<std::thread> workers;

  void work();
  // The epoch's batch number (over all shards) of this shard's `local_batch`-th batch.
  int64_t global_batch(int64_t local_batch) const;
  Batch build_batch(const std::vector<int64_t>& sample_indices, int64_t batch_epoch,
                    uint64_t batch_generation);
  void report_unreadable(int64_t sample_index, const std::string& reason);
};

int64_t ImageLoader::State::global_batch(int64_t local_batch) const {
  return (local_batch * options.num_shards + options.shard) % unsharded_batches(options, folder);
}

void ImageLoader::State::work() {
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    work_available.wait(lock, [&] {
      return stopping || (epoch_started && next_to_claim < num_batches &&
                          next_to_claim < next_to_deliver + prefetch_batches);
    });
    if (stopping) return;
    const int64_t batch_number = next_to_claim++;
    const uint64_t batch_generation = generation;
    const int64_t batch_epoch = epoch;
    const int64_t begin = global_batch(batch_number) * options.batch_size;
    const int64_t end = std::min<int64_t>(begin + options.batch_size, order.size());
    std::vector<int64_t> sample_indices;
    for (int64_t position = begin; position < end; ++position)
      if (!known_unreadable[order[position]]) sample_indices.push_back(order[position]);

    lock.unlock();
    Batch batch;
    std::exception_ptr batch_failure;
    try {
      batch = build_batch(sample_indices, batch_epoch, batch_generation);
    } catch (...) {
      batch_failure = std::current_exception();
    }
    lock.lock();
    if (batch_generation != generation || stopping) continue;  // an abandoned epoch
    if (batch_failure && !failure) failure = batch_failure;
    finished.emplace(batch_number, std::move(batch));
    batch_finished.notify_all();
  }
}

// Decodes and transforms into one [n,C,S,S] tensor; unreadable images are left out, so the
// batch shrinks to the images that were read.
Batch ImageLoader::State::build_batch(const std::vector<int64_t>& sample_indices,
                                      int64_t batch_epoch, uint64_t batch_generation) {
  const int64_t size = transform.image_size;
  const int64_t image_floats = transform.channels * size * size;
  Batch batch;
  at::Tensor images = image_buffers->take_float_tensor(
      {static_cast<int64_t>(sample_indices.size()), transform.channels, size, size});
  float* image_data = images.data_ptr<float>();
  std::vector<int64_t> labels;
  for (const int64_t sample_index : sample_indices) {
    if (stopping || generation != batch_generation) break;  // abandoned: stop early
    const ImageSample& sample = folder.samples[sample_index];
    // Seeded per sample: the same crop and flip whichever thread draws it.
    std::mt19937 generator =
        seeded_generator(options.seed, RandomPurpose::kAugment, static_cast<uint64_t>(batch_epoch),
                         static_cast<uint64_t>(sample_index));
    try {
      const cv::Mat pixels =
          decode_image(sample.path, transform.channels, options.max_image_pixels);
      transform_image_into(pixels, transform, options.mode, generator,
                           image_data + labels.size() * image_floats);
    } catch (const std::exception& error) {
      report_unreadable(sample_index, reason_without_path(error.what(), sample.path));
      continue;
    }
    labels.push_back(sample.label);
    batch.sample_indices.push_back(sample_index);
    batch.paths.push_back(sample.path);
  }
  const int64_t num_read = static_cast<int64_t>(labels.size());
  batch.images = images.narrow(0, 0, num_read);
  batch.labels = at::empty({num_read}, at::TensorOptions().dtype(at::kLong));
  std::copy(labels.begin(), labels.end(), batch.labels.data_ptr<int64_t>());
  return batch;
}

void ImageLoader::State::report_unreadable(int64_t sample_index, const std::string& reason) {
  const std::string& path = folder.samples[sample_index].path;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (known_unreadable[sample_index]) return;
    known_unreadable[sample_index] = true;
    summary.skipped.push_back({path, reason});
  }
  if (warning_sink) {
    std::lock_guard<std::mutex> lock(sink_mutex);
    warning_sink("skipped " + path + ": " + reason);
  }
}

ImageLoader::ImageLoader(ImageFolder folder, TransformOptions transform, LoaderOptions options,
                         WarningSink warning_sink)
    : state_(std::make_unique<State>()) {
  transform.check();
  options.check();
  cv::setNumThreads(0);
  const int64_t num_workers =
      options.num_workers > 0
          ? options.num_workers
          : std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  state_->prefetch_batches =
      options.prefetch_batches > 0 ? options.prefetch_batches : 2 * num_workers;
  // Buffers in use at once: the finished window, one per worker, and the caller's current one.
  const int64_t batch_bytes = options.batch_size * transform.channels * transform.image_size *
                              transform.image_size * static_cast<int64_t>(sizeof(float));
  state_->image_buffers =
      BufferPool::create(static_cast<size_t>(batch_bytes),
                         static_cast<size_t>(state_->prefetch_batches + num_workers + 1));
  state_->known_unreadable.assign(folder.samples.size(), false);
  state_->folder = std::move(folder);
  state_->transform = std::move(transform);
  state_->options = options;
  state_->warning_sink = std::move(warning_sink);
  for (int64_t i = 0; i < num_workers; ++i)
    state_->workers.emplace_back([state = state_.get()] { state->work(); });
}

ImageLoader::~ImageLoader() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work_available.notify_all();
  for (std::thread& worker : state_->workers) worker.join();
}

void ImageLoader::start_epoch(int64_t epoch) {
  State& state = *state_;
  std::vector<int64_t> order(state.folder.samples.size());
  std::iota(order.begin(), order.end(), 0);
  if (state.options.shuffle) {
    std::mt19937 generator =
        seeded_generator(state.options.seed, RandomPurpose::kShuffle, static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), generator);
  }
  const int64_t num_batches = batches_per_epoch();
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    ++state.generation;
    state.epoch = epoch;
    state.epoch_started = true;
    state.order = std::move(order);
    state.num_batches = num_batches;
    state.next_to_claim = 0;
    state.next_to_deliver = 0;
    state.finished.clear();
    state.failure = nullptr;
  }
  state.work_available.notify_all();
}

std::optional<Batch> ImageLoader::next_batch() {
  State& state = *state_;
  std::unique_lock<std::mutex> lock(state.mutex);
  if (!state.epoch_started)
    throw std::logic_error("ImageLoader::next_batch: call start_epoch first");
  while (true) {
    state.batch_finished.wait(lock, [&] {
      return state.failure || state.next_to_deliver >= state.num_batches ||
             state.finished.count(state.next_to_deliver);
    });
    if (state.failure) std::rethrow_exception(std::exchange(state.failure, nullptr));
    if (state.next_to_deliver >= state.num_batches) return std::nullopt;
    auto found = state.finished.find(state.next_to_deliver);
    Batch batch = std::move(found->second);
    state.finished.erase(found);
    ++state.next_to_deliver;
    state.work_available.notify_all();  // the window moved: room for one more batch
    if (!batch.labels.defined() || batch.labels.numel() == 0) continue;  // nothing was read
    state.summary.images_delivered += batch.labels.numel();
    return batch;
  }
}

int64_t ImageLoader::batches_per_epoch() const {
  const int64_t shards = state_->options.num_shards;
  return (unsharded_batches(state_->options, state_->folder) + shards - 1) / shards;
}

const ImageFolder& ImageLoader::folder() const {
  return state_->folder;
}

LoaderSummary ImageLoader::summary() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->summary;
}

}  // namespace moevit
