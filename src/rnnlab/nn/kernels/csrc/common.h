// Helpers shared by the fused CPU recurrences (lstm.cpp, gru.cpp, rnn.cpp, minrnn.cpp).
//
// Conventions: every buffer is contiguous and time-major, (T, B, width); "rows" are batch rows.
// Variable lengths follow PackedSequence: rows are sorted by decreasing length and step t
// updates only the first batch_sizes[t] rows; the other rows carry their state unchanged.
#pragma once

#include <ATen/ATen.h>
#include <ATen/EmptyTensor.h>
#include <c10/core/CPUAllocator.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <new>
#include <type_traits>
#include <vector>

// glibc's vector math library (libmvec) has SIMD exp and tanh; glibc declares them for the
// vectoriser only under -ffast-math, whose reciprocal approximations turn 1 / (1 + inf) into
// NaN and whose finite-math assumption would swallow NaNs. We keep IEEE arithmetic and declare
// the SIMD variants ourselves.
#if defined(__x86_64__) && defined(__GLIBC__)
extern "C" {
float expf(float) noexcept __attribute__((simd("notinbranch")));
float tanhf(float) noexcept __attribute__((simd("notinbranch")));
double exp(double) noexcept __attribute__((simd("notinbranch")));
double tanh(double) noexcept __attribute__((simd("notinbranch")));
}
#endif

// The Fortran BLAS that torch's CPU build links (MKL or OpenBLAS) exports sgemm_/dgemm_;
// calling it directly skips torch's per-call dispatch, which costs more than the product
// itself at recurrent sizes (16 x 64 x 256: ~20 us through at::addmm, a few through BLAS).
// Weak: if this torch build does not export them, gemm() falls back to at::mm.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
            const float*, const int*, const float*, const int*, const float*, float*,
            const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*) __attribute__((weak));
}

namespace rnnlab {

// Row-major C (n x m) = A (n x k) op(W) + beta C, where W is row-major and op(W) = W^T (W is
// m x k, the forward h W_hh^T) or W (W is k x m, the backward dR W_hh).
template <typename T>
inline void gemm(bool transpose_w, int64_t n, int64_t m, int64_t k, const T* a, const T* w,
                 T beta, T* c) {
  if (n == 0) return;
  const int in = static_cast<int>(n), im = static_cast<int>(m), ik = static_cast<int>(k);
  const char tw = transpose_w ? 'T' : 'N', ta = 'N';
  const int ldw = transpose_w ? ik : im;
  const T one = 1;
  // Column-major view: C^T (m x n) = op(W)^T (m x k) A^T (k x n).
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_ != nullptr) {
      sgemm_(&tw, &ta, &im, &in, &ik, &one, w, &ldw, a, &ik, &beta, c, &im);
      return;
    }
  } else {
    if (dgemm_ != nullptr) {
      dgemm_(&tw, &ta, &im, &in, &ik, &one, w, &ldw, a, &ik, &beta, c, &im);
      return;
    }
  }
  auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  at::Tensor at_a = at::from_blob(const_cast<T*>(a), {n, k}, opts);
  at::Tensor at_w = at::from_blob(const_cast<T*>(w), transpose_w ? at::IntArrayRef{m, k}
                                                                 : at::IntArrayRef{k, m}, opts);
  at::Tensor at_c = at::from_blob(c, {n, m}, opts);
  at::Tensor product = at::mm(at_a, transpose_w ? at_w.t() : at_w);
  if (beta == T(0)) {
    at_c.copy_(product);
  } else {
    at_c.mul_(beta).add_(product);
  }
}

constexpr double kLayerNormEps = 1e-5;  // rnnlab.nn.cells.LAYER_NORM_EPS

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));  // exp overflow gives 1 / inf = 0, as torch
}

// Runs f(row) for rows [0, n), on several threads once a step has about 2k elements per thread.
// The threads are already awake from the step's GEMM (same OpenMP team), so this pays even for
// one LayerNorm LSTM step at B = 16, H = 64; at 16k, such steps ran on one thread.
template <typename F>
inline void for_rows(int64_t n, int64_t width, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 2048 / std::max<int64_t>(width, 1));
  if (n <= grain) {
    for (int64_t r = 0; r < n; ++r) f(r);
    return;
  }
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) f(r);
  });
}

// LayerNorm without gain: x <- (x - mean) * rstd over `size` values; returns rstd.
template <typename T>
inline T normalize_inplace(T* x, int64_t size) {
  T mean = 0;
#pragma omp simd reduction(+ : mean)
  for (int64_t j = 0; j < size; ++j) mean += x[j];
  mean /= T(size);
  T var = 0;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < size; ++j) {
    x[j] -= mean;
    var += x[j] * x[j];
  }
  const T rstd = T(1) / std::sqrt(var / T(size) + T(kLayerNormEps));
  for (int64_t j = 0; j < size; ++j) x[j] *= rstd;
  return rstd;
}

// LayerNorm statistics of `size` values: returns rstd and sets mean (normalize_inplace's
// arithmetic, without writing x).
template <typename T>
inline T moments(const T* x, int64_t size, T& mean) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < size; ++j) sum += x[j];
  mean = sum / T(size);
  const T m = mean;
  T var = 0;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < size; ++j) var += (x[j] - m) * (x[j] - m);
  return T(1) / std::sqrt(var / T(size) + T(kLayerNormEps));
}

// xhat = (x - mean) * rstd per block of `hidden` values of one row, from saved moments.
template <typename T>
inline void normalized(const T* x, const T* mean, const T* rstd, int64_t blocks, int64_t hidden,
                       T* xhat) {
  for (int64_t g = 0; g < blocks; ++g) {
    for (int64_t j = g * hidden; j < (g + 1) * hidden; ++j) xhat[j] = (x[j] - mean[g]) * rstd[g];
  }
}

// Backward of normalize_inplace: dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
// written into dx (may alias dy).
template <typename T>
inline void normalize_backward(const T* dy, const T* xhat, T rstd, int64_t size, T* dx) {
  T mean_dy = 0, mean_dy_xhat = 0;
#pragma omp simd reduction(+ : mean_dy, mean_dy_xhat)
  for (int64_t j = 0; j < size; ++j) {
    mean_dy += dy[j];
    mean_dy_xhat += dy[j] * xhat[j];
  }
  mean_dy /= T(size);
  mean_dy_xhat /= T(size);
  for (int64_t j = 0; j < size; ++j) dx[j] = rstd * (dy[j] - mean_dy - xhat[j] * mean_dy_xhat);
}

// Copies rows [n, B) of a (B, width) state from `from` to `to`: rows past their length keep
// their state.
template <typename T>
inline void carry_rows(const T* from, T* to, int64_t n, int64_t batch, int64_t width) {
  if (n < batch) std::copy(from + n * width, from + batch * width, to + n * width);
}

// Large per-call buffers (activations kept for the backward, the outputs, the input gradient)
// come from a small cache of blocks that earlier calls freed. glibc hands blocks this large back
// to the OS when they are freed, so without it every training step pays a page fault per 4 KiB
// of fresh memory, which at T = 1000 costs as much as the recurrence's arithmetic. There is one
// cache per process, shared by every family's library: instance()'s static is a GNU-unique symbol
// (an inline function's local static), which the dynamic linker binds to one copy. It holds at
// most RNNLAB_KERNEL_CACHE_MB MiB (default 256; 0 turns it off) of free blocks in all, evicting
// the oldest first, and reuses a block for a request of 7/8 of its size or more.
class BlockCache final : public c10::Allocator {
 public:
  // One per process, never destroyed: tensors may be freed after static destructors ran.
  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache();
    return *cache;
  }

  at::DataPtr allocate(size_t bytes) override {
    if (bytes < kMinBytes || limit_ == 0) return c10::GetCPUAllocator()->allocate(bytes);
    Block* block = take(bytes);
    if (block == nullptr) {
      const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
      void* data = std::aligned_alloc(kAlign, rounded);
      if (data == nullptr) throw std::bad_alloc();
      block = new Block{data, rounded};
    }
    report(block, true);
    return {block->data, block, &BlockCache::release, at::Device(at::kCPU)};
  }

  void copy_data(void* dest, const void* src, size_t count) const override {
    default_copy_data(dest, src, count);
  }

 private:
  struct Block {
    void* data;
    size_t bytes;
  };
  static constexpr size_t kMinBytes = size_t(1) << 20, kAlign = 64;

  std::mutex mutex_;
  std::deque<Block*> free_;  // oldest first
  std::atomic<size_t> cached_{0};
  std::atomic<size_t> in_use_{0};
  const size_t limit_ = [] {
    const char* mb = std::getenv("RNNLAB_KERNEL_CACHE_MB");
    return size_t(mb ? std::strtoull(mb, nullptr, 10) : 256) << 20;
  }();

  // The smallest free block that fits `bytes` without wasting more than an eighth of itself.
  Block* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      const size_t size = (*it)->bytes;
      const bool fits = size >= bytes && size - size / 8 <= bytes;
      if (fits && (best == free_.end() || size < (*best)->bytes)) best = it;
    }
    if (best == free_.end()) return nullptr;
    Block* block = *best;
    free_.erase(best);
    cached_ -= block->bytes;
    return block;
  }

  // Tells torch's profiler (profile_memory=True), as its own CPU allocator does.
  void report(const Block* block, bool allocated) {
    const size_t in_use = allocated ? in_use_ += block->bytes : in_use_ -= block->bytes;
    if (c10::memoryProfilingEnabled()) {
      const int64_t size = static_cast<int64_t>(block->bytes);
      c10::reportMemoryUsageToProfiler(block->data, allocated ? size : -size, in_use,
                                       in_use + cached_, at::Device(at::kCPU));
    }
  }

  static void release(void* context) {
    Block* block = static_cast<Block*>(context);
    BlockCache& cache = instance();
    cache.report(block, false);
    std::vector<Block*> evicted;
    {
      std::lock_guard<std::mutex> lock(cache.mutex_);
      cache.free_.push_back(block);
      cache.cached_ += block->bytes;
      while (cache.cached_ > cache.limit_) {
        evicted.push_back(cache.free_.front());
        cache.cached_ -= evicted.back()->bytes;
        cache.free_.pop_front();
      }
    }
    for (Block* old : evicted) {
      std::free(old->data);
      delete old;
    }
  }
};

inline at::Tensor buffer(const at::Tensor& like, at::IntArrayRef shape, bool zero) {
  at::Tensor out = at::detail::empty_generic(shape, &BlockCache::instance(),
                                             c10::DispatchKeySet(c10::DispatchKey::CPU),
                                             like.scalar_type(), std::nullopt);
  return zero ? out.zero_() : out;
}

// Whether an optional tensor argument (``Tensor?`` in an op schema) was given.
inline bool has(const std::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

// Argument checks. Every op runs them before it touches memory, so a wrong call (a shape, a
// dtype, a device, a layout or batch sizes that do not fit) raises a Python RuntimeError
// instead of reading or writing out of bounds.

// The tensor whose dtype the others must share: defined, on the CPU, float32 or float64.
inline void check_floating(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is missing");
  TORCH_CHECK(t.device().is_cpu(), op, ": ", name, " must be on the CPU, got ", t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", name,
              " must be float32 or float64, got ", t.scalar_type());
}

// `t` is a CPU tensor of `like`'s dtype with exactly `shape`, contiguous unless `any_layout`
// (the op copies it into a dense tensor first).
inline void check_tensor(const char* op, const char* name, const at::Tensor& t,
                         const at::Tensor& like, at::IntArrayRef shape, bool any_layout = false) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is missing");
  TORCH_CHECK(t.device().is_cpu(), op, ": ", name, " must be on the CPU, got ", t.device());
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), op, ": ", name, " must have dtype ",
              like.scalar_type(), ", got ", t.scalar_type());
  TORCH_CHECK(t.sizes() == shape, op, ": ", name, " must have shape ", shape, ", got ",
              t.sizes());
  TORCH_CHECK(any_layout || t.is_contiguous(), op, ": ", name, " must be contiguous");
}

// The same for an optional argument, when it is given.
inline void check_optional(const char* op, const char* name, const std::optional<at::Tensor>& t,
                           const at::Tensor& like, at::IntArrayRef shape, bool any_layout = false) {
  if (has(t)) check_tensor(op, name, *t, like, shape, any_layout);
}

// batch_sizes: empty (every row at every step) or one count per step, non-increasing, each
// between 0 and B (the kernels index rows [0, batch_sizes[t]) of each step).
inline void check_batch_sizes(const char* op, c10::IntArrayRef batch_sizes, int64_t steps,
                              int64_t batch) {
  if (batch_sizes.empty()) return;
  TORCH_CHECK(static_cast<int64_t>(batch_sizes.size()) == steps, op, ": batch_sizes must have T = ",
              steps, " entries, got ", batch_sizes.size());
  int64_t previous = batch;
  for (const int64_t n : batch_sizes) {
    TORCH_CHECK(n >= 0 && n <= previous, op,
                ": batch_sizes must be non-increasing, each between 0 and B = ", batch, ", got ",
                batch_sizes);
    previous = n;
  }
}

// The tensors a forward saved for its backward: `count` of them, the first (h_0 .. h_T) of
// shape (T + 1, B, H); the caller checks the others it reads.
inline void check_saved_count(const char* op, at::TensorList saved, size_t count) {
  TORCH_CHECK(saved.size() == count, op, ": expected the ", count,
              " tensors the forward saved, got ", saved.size());
}

// sum[j] += Σ_{r < n} a[r, j] * b[r, j] over rows of stride a_stride, b_stride, in double: a
// parameter gradient summed over one step's rows while the step is in cache (T * B terms).
template <typename T>
inline void accumulate_rows(int64_t n, int64_t width, const T* a, int64_t a_stride, const T* b,
                            int64_t b_stride, double* sum) {
  for (int64_t r = 0; r < n; ++r) {
    const T* ar = a + r * a_stride;
    const T* br = b + r * b_stride;
    for (int64_t j = 0; j < width; ++j) sum[j] += double(ar[j]) * double(br[j]);
  }
}

// sum[j] += Σ_{r < n} a[r, j], in double.
template <typename T>
inline void accumulate_rows(int64_t n, int64_t width, const T* a, int64_t a_stride, double* sum) {
  for (int64_t r = 0; r < n; ++r) {
    const T* ar = a + r * a_stride;
    for (int64_t j = 0; j < width; ++j) sum[j] += ar[j];
  }
}

}  // namespace rnnlab
