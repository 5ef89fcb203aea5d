#include "datasets/buffer_pool.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

namespace moevit {
namespace {

TEST(BufferPool, ReturnedBuffersAreReusedUpToTheIdleLimit) {
  const std::shared_ptr<BufferPool> pool = BufferPool::create(/*buffer_bytes=*/4 * 6 * 4,
                                                              /*max_idle=*/1);
  at::Tensor first = pool->take_float_tensor({4, 6});
  EXPECT_EQ(first.sizes().vec(), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(first.dtype(), at::kFloat);
  first.fill_(2.0f);
  EXPECT_EQ(first.sum().item<float>(), 48.0f);
  const void* first_data = first.data_ptr();
  at::Tensor second = pool->take_float_tensor({2, 6});
  EXPECT_NE(second.data_ptr(), first_data);

  first = at::Tensor();   // the last reference: back to the pool
  second = at::Tensor();  // over max_idle: freed
  EXPECT_EQ(pool->idle_buffers(), 1u);
  const at::Tensor reused = pool->take_float_tensor({3, 2, 4});
  EXPECT_EQ(pool->idle_buffers(), 0u);
  EXPECT_THROW(pool->take_float_tensor({5, 6}), std::invalid_argument);
}

TEST(BufferPool, TensorsOutliveThePoolHandle) {
  std::shared_ptr<BufferPool> pool = BufferPool::create(64, 2);
  at::Tensor tensor = pool->take_float_tensor({16});
  pool.reset();  // the tensor's deleter still holds the pool
  tensor.fill_(1.0f);
  EXPECT_EQ(tensor.sum().item<float>(), 16.0f);
}

}  // namespace
}  // namespace moevit
