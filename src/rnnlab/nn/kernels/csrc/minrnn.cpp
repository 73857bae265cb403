// Fused minGRU / minLSTM recurrence (CPU) for the scan engine: forward and hand-written
// backward, one layer and direction. Equations: docs/equations.md (mingru.1-3, minlstm.1-4).
//
// Both cells are the diagonal linear recurrence h_t = a_t ⊙ h_{t-1} + b_t whose coefficients
// depend on x_t only (xw = x W^T + b, computed by the caller as one GEMM):
//   minGRU:  z = σ(x_z),                  a = 1 - z,      b = z ⊙ g(x_n)
//   minLSTM: i = σ(x_i), f = σ(x_f),      a = f / (f + i), b = i / (f + i) ⊙ g(x_g)
//   g(v) = v + 1/2 for v >= 0, σ(v) otherwise
//   zoneout: h_t = m_t h_{t-1} + (1 - m_t)(a_t h_{t-1} + b_t)
// Rows past their length carry their state (identity steps).
//
// Every channel (row, hidden unit) is an independent scalar recurrence, so the work splits into
// (row, block of units) tasks that run on all threads, each walking time once with the block's
// units in SIMD lanes. On a CPU this beats a parallel-in-time scan, which does about twice the
// arithmetic and must stream the (T, B, H) coefficients through memory several times; the
// chunked scan of linear_scan.py remains the path for GPUs and when this library is missing.
// One pass reads xw and writes h; the backward recomputes the gates from xw (cheaper than
// storing them) and walks time in reverse:
//   G_t = dL/dh_t (from the output) + dL/dh_t (through h_{t+1})
//   u = (1 - m) G: dL/da = u h_{t-1}, dL/db = u, and dL/dh_{t-1} = m G + u a.
#include <torch/library.h>

#include "common.h"

namespace rnnlab {
namespace {

constexpr int64_t kBlock = 64;  // hidden units per task

struct Shape {
  int64_t steps, batch, hidden, gates;
};

// Coefficients (a, b) of one channel and, with kGrad, what their gradients need: w is the
// weight of the candidate (z or i'), dw = dw/dv for its pre-activation (minGRU: z (1 - z);
// minLSTM: i' f', the derivative by d = log i - log f), and minLSTM's σ(-x_i), σ(-x_f)
// (dd/dx_i = σ(-x_i), dd/dx_f = -σ(-x_f)). Since a = 1 - w in both, dL/dw = dL/db g - dL/da.
template <typename T>
struct MinGates {
  T a, b, w, dw, g, dg, neg_i, neg_f;
};

// g(v) and g'(v).
template <typename T>
inline void candidate(T v, T& g, T& dg) {
  const T s = sigmoid(v);
  g = v >= T(0) ? v + T(0.5) : s;
  dg = v >= T(0) ? T(1) : s * (T(1) - s);
}

template <typename T, bool kLstm, bool kGrad>
inline MinGates<T> gates(const T* x, int64_t j, int64_t hidden) {
  MinGates<T> out;
  if constexpr (kLstm) {
    // i' = i / (i + f) = (1 + e^-x_f) / (2 + e^-x_i + e^-x_f). Scaled by e^-c, c the largest
    // exponent, every term is at most 1 and one of them is 1: no overflow, never 0/0 (the
    // plain quotient is 0/0 once both gates underflow, below about -88 in float32).
    const T x_i = x[j], x_f = x[hidden + j];
    const T c = std::max(std::max(-x_i, -x_f), T(0));
    const T e_0 = std::exp(-c), e_i = std::exp(-x_i - c), e_f = std::exp(-x_f - c);
    const T scale = T(1) / (T(2) * e_0 + e_i + e_f);
    const T i = (e_0 + e_f) * scale, f = (e_0 + e_i) * scale;
    candidate(x[2 * hidden + j], out.g, out.dg);
    out.a = f;
    out.b = i * out.g;
    out.w = i;
    if constexpr (kGrad) {
      out.dw = i * f;
      out.neg_i = e_i / (e_0 + e_i);  // σ(-x_i) without cancellation
      out.neg_f = e_f / (e_0 + e_f);
    }
  } else {
    const T z = sigmoid(x[j]);
    candidate(x[hidden + j], out.g, out.dg);
    out.a = T(1) - z;
    out.b = z * out.g;
    out.w = z;
    if constexpr (kGrad) out.dw = z * (T(1) - z);
  }
  return out;
}

// Runs task(row, first unit, units) over every (row, block) pair, on several threads when the
// whole sequence has enough work to pay for waking them.
template <typename F>
void for_blocks(const Shape& s, const F& task) {
  const int64_t blocks = (s.hidden + kBlock - 1) / kBlock;
  const int64_t tasks = s.batch * blocks;
  const int64_t work = std::max<int64_t>(1, s.steps * std::min(kBlock, s.hidden));
  at::parallel_for(0, tasks, std::max<int64_t>(1, 32768 / work), [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t row = k / blocks, first = (k % blocks) * kBlock;
      task(row, first, std::min(kBlock, s.hidden - first));
    }
  });
}

inline int64_t length_of(c10::IntArrayRef lengths, int64_t row, int64_t steps) {
  return lengths.empty() ? steps : lengths[row];
}

template <typename T, bool kLstm, bool kZoneout>
at::Tensor forward_impl(const at::Tensor& xw, const at::Tensor& h0, c10::IntArrayRef lengths,
                        const std::optional<at::Tensor>& zoneout, const Shape& s) {
  at::Tensor hs = buffer(xw, {s.steps, s.batch, s.hidden}, false);
  const T* x_all = xw.data_ptr<T>();
  const T* m_all = kZoneout ? zoneout->data_ptr<T>() : nullptr;
  T* h_all = hs.data_ptr<T>();
  const T* h_start = h0.data_ptr<T>();
  const int64_t x_stride = s.batch * s.gates * s.hidden, h_stride = s.batch * s.hidden;
  for_blocks(s, [&](int64_t row, int64_t first, int64_t units) {
    const int64_t length = length_of(lengths, row, s.steps);
    const int64_t cell = row * s.hidden + first, x_cell = row * s.gates * s.hidden + first;
    T h[kBlock];
    std::copy(h_start + cell, h_start + cell + units, h);
    for (int64_t t = 0; t < s.steps; ++t) {
      T* out = h_all + t * h_stride + cell;
      if (t < length) {
        const T* x = x_all + t * x_stride + x_cell;
        const T* m = kZoneout ? m_all + t * h_stride + cell : nullptr;
#pragma omp simd
        for (int64_t j = 0; j < units; ++j) {
          const MinGates<T> c = gates<T, kLstm, false>(x, j, s.hidden);
          const T next = c.a * h[j] + c.b;
          if constexpr (kZoneout) {
            h[j] = m[j] * h[j] + (T(1) - m[j]) * next;
          } else {
            h[j] = next;
          }
        }
      }
      std::copy(h, h + units, out);
    }
  });
  return hs;
}

template <typename T, bool kLstm, bool kZoneout>
std::vector<at::Tensor> backward_impl(const at::Tensor& grad_hs, const at::Tensor& xw,
                                      const at::Tensor& h0, const at::Tensor& hs,
                                      c10::IntArrayRef lengths,
                                      const std::optional<at::Tensor>& zoneout, const Shape& s) {
  at::Tensor dxw = buffer(xw, xw.sizes(), false);
  at::Tensor dh0 = at::empty_like(h0);
  const T* x_all = xw.data_ptr<T>();
  const T* m_all = kZoneout ? zoneout->data_ptr<T>() : nullptr;
  const T* h_all = hs.data_ptr<T>();
  const T* dh_all = grad_hs.data_ptr<T>();
  const T* h_start = h0.data_ptr<T>();
  T* dx_all = dxw.data_ptr<T>();
  const int64_t x_stride = s.batch * s.gates * s.hidden, h_stride = s.batch * s.hidden;
  const int64_t H = s.hidden;
  for_blocks(s, [&](int64_t row, int64_t first, int64_t units) {
    const int64_t length = length_of(lengths, row, s.steps);
    const int64_t cell = row * H + first, x_cell = row * s.gates * H + first;
    T carry[kBlock] = {};  // dL/dh_t through h_{t+1}
    for (int64_t t = s.steps - 1; t >= 0; --t) {
      const T* dh = dh_all + t * h_stride + cell;
      T* dx = dx_all + t * x_stride + x_cell;
      if (t >= length) {  // identity step: the gradient passes to h_{t-1} unchanged
        for (int64_t j = 0; j < units; ++j) carry[j] += dh[j];
        for (int64_t gate = 0; gate < s.gates; ++gate) std::fill_n(dx + gate * H, units, T(0));
        continue;
      }
      const T* x = x_all + t * x_stride + x_cell;
      const T* h_prev = t > 0 ? h_all + (t - 1) * h_stride + cell : h_start + cell;
      const T* m = kZoneout ? m_all + t * h_stride + cell : nullptr;
#pragma omp simd
      for (int64_t j = 0; j < units; ++j) {
        const MinGates<T> c = gates<T, kLstm, true>(x, j, H);
        const T grad = dh[j] + carry[j];
        T keep = T(0);
        if constexpr (kZoneout) keep = m[j];
        const T u = (T(1) - keep) * grad;
        const T da = u * h_prev[j], db = u;
        carry[j] = keep * grad + u * c.a;
        // a = 1 - w and b = w g: dL/dw = db g - da.
        const T dgate = (db * c.g - da) * c.dw;
        if constexpr (kLstm) {
          dx[j] = dgate * c.neg_i;
          dx[H + j] = -dgate * c.neg_f;
          dx[2 * H + j] = db * c.w * c.dg;
        } else {
          dx[j] = dgate;
          dx[H + j] = db * c.w * c.dg;
        }
      }
    }
    std::copy(carry, carry + units, dh0.data_ptr<T>() + cell);
  });
  return {dxw, dh0};
}

// Calls f with the two switches as compile-time constants, so the inner loops have no branches.
template <typename F>
void dispatch(bool lstm, bool zoneout, const F& f) {
  using Yes = std::true_type;
  using No = std::false_type;
  if (lstm) {
    zoneout ? f(Yes{}, Yes{}) : f(Yes{}, No{});
  } else {
    zoneout ? f(No{}, Yes{}) : f(No{}, No{});
  }
}

// Checks the arguments both ops share (see common.h) and returns their sizes.
Shape check(const char* op, const at::Tensor& xw, const at::Tensor& h0, c10::IntArrayRef lengths,
            const std::optional<at::Tensor>& zoneout, bool lstm) {
  check_floating(op, "xw", xw);
  const int64_t gates = lstm ? 3 : 2;
  TORCH_CHECK(xw.dim() == 3 && xw.size(2) % gates == 0 && xw.size(2) > 0, op,
              ": expected xw (T, B, ", gates, "*H) with H > 0, got ", xw.sizes());
  const Shape s{xw.size(0), xw.size(1), xw.size(2) / gates, gates};
  check_tensor(op, "xw", xw, xw, {s.steps, s.batch, gates * s.hidden});
  check_tensor(op, "h0", h0, xw, {s.batch, s.hidden});
  TORCH_CHECK(lengths.empty() || static_cast<int64_t>(lengths.size()) == s.batch, op,
              ": lengths must be empty or hold one length per row (B = ", s.batch, "), got ",
              lengths.size());
  for (const int64_t length : lengths) {
    TORCH_CHECK(length >= 0 && length <= s.steps, op, ": every length must be between 0 and T = ",
                s.steps, ", got ", lengths);
  }
  check_optional(op, "zoneout", zoneout, xw, {s.steps, s.batch, s.hidden});
  return s;
}

at::Tensor minrnn_forward(const at::Tensor& xw, const at::Tensor& h0, c10::IntArrayRef lengths,
                          const std::optional<at::Tensor>& zoneout, bool lstm) {
  const Shape s = check("minrnn_forward", xw, h0, lengths, zoneout, lstm);
  at::Tensor hs;
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "rnnlab_minrnn_forward", [&] {
    dispatch(lstm, has(zoneout), [&](auto is_lstm, auto is_zoneout) {
      hs = forward_impl<scalar_t, is_lstm, is_zoneout>(xw, h0, lengths, zoneout, s);
    });
  });
  return hs;
}

std::vector<at::Tensor> minrnn_backward(const at::Tensor& grad_hs, const at::Tensor& xw,
                                        const at::Tensor& h0, const at::Tensor& hs,
                                        c10::IntArrayRef lengths,
                                        const std::optional<at::Tensor>& zoneout, bool lstm) {
  const char* op = "minrnn_backward";
  const Shape s = check(op, xw, h0, lengths, zoneout, lstm);
  check_tensor(op, "hs", hs, xw, {s.steps, s.batch, s.hidden});
  check_tensor(op, "grad_hs", grad_hs, xw, {s.steps, s.batch, s.hidden});
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "rnnlab_minrnn_backward", [&] {
    dispatch(lstm, has(zoneout), [&](auto is_lstm, auto is_zoneout) {
      out = backward_impl<scalar_t, is_lstm, is_zoneout>(grad_hs, xw, h0, hs, lengths, zoneout,
                                                         s);
    });
  });
  return out;
}

}  // namespace
}  // namespace rnnlab

TORCH_LIBRARY_FRAGMENT(rnnlab, m) {
  m.def("minrnn_forward(Tensor xw, Tensor h0, int[] lengths, Tensor? zoneout, bool lstm) -> Tensor");
  m.def(
      "minrnn_backward(Tensor grad_hs, Tensor xw, Tensor h0, Tensor hs, int[] lengths, "
      "Tensor? zoneout, bool lstm) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnlab, CPU, m) {
  m.impl("minrnn_forward", &rnnlab::minrnn_forward);
  m.impl("minrnn_backward", &rnnlab::minrnn_backward);
}
