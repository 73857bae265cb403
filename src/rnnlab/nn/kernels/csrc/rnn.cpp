// Fused Elman-family recurrence (CPU): forward and hand-written BPTT backward, one layer and
// direction, for the loop engine. One call runs the whole sequence; per step it does ONE GEMM
// (h_{t-1} W_hh^T, torch's BLAS; none for IndRNN) and fused element-wise passes over the rows.
// Equations: docs/equations.md (rnn.1, ind.1).
//
//   pre = X_t + R_t           X_t = xp_t (+ b_ih), or LN(xp_t) * g_ih + b_ih (input LayerNorm;
//                             then xp_t = x_t W_ih^T is the raw projection, without bias)
//                             R_t = h~ W_hh^T (+ b_hh), or LN(h~ W_hh^T) * g_hh + b_hh
//                             IndRNN: R_t = u ⊙ h~ (+ b_hh), u = weight_hh of shape (H,)
//   h^_t = tanh(pre) or relu(pre)
//   zoneout: h_t = z_t h_{t-1} + (1 - z_t) h^_t, else h_t = h^_t
// where h~ = h_{t-1} * m (variational recurrent dropout) and LN(v) = (v - mean) / sqrt(var + eps)
// over the H values of one row, without gain. Without LayerNorm the caller may fold the biases
// into xp and pass none here.
#include <torch/library.h>

#include "common.h"

namespace rnnlab {
namespace {

struct RnnOptions {
  const at::Tensor& weight_hh;                // (H, H), or (H,) for IndRNN
  c10::IntArrayRef batch_sizes;
  const std::optional<at::Tensor>& rec_mask;  // (B, H)
  const std::optional<at::Tensor>& zoneout;   // (T, B, H): keep-mask of h
  const std::optional<at::Tensor>& ln_hh;     // (H,) LayerNorm gain g_hh of h~ W_hh^T
  const std::optional<at::Tensor>& bias_hh;   // (H,) added after the recurrent term
  const std::optional<at::Tensor>& ln_ih;     // (H,) LayerNorm gain g_ih of xp
  const std::optional<at::Tensor>& bias_ih;   // (H,) added after the input term
  bool relu;
};

template <typename T>
inline T activate(T x, bool relu) {
  return relu ? (x < T(0) ? T(0) : x) : std::tanh(x);  // relu keeps NaN, as torch.relu
}

// d act / d pre from the output y, as torch's autograd: relu passes the gradient unless
// y <= 0 (so NaN passes), tanh multiplies by 1 - y^2.
template <typename T>
inline T activate_grad(T dy, T y, bool relu) {
  return relu ? (y <= T(0) ? T(0) : dy) : dy * (T(1) - y * y);
}

// The arguments both ops share (see common.h), for T steps, B rows and H units.
void check_options(const char* op, const at::Tensor& like, int64_t steps, int64_t batch,
                   int64_t hidden, const RnnOptions& o) {
  const bool vector = o.weight_hh.dim() == 1;
  if (vector) {
    check_tensor(op, "weight_hh", o.weight_hh, like, {hidden});
  } else {
    check_tensor(op, "weight_hh", o.weight_hh, like, {hidden, hidden});
  }
  TORCH_CHECK(!(vector && has(o.ln_hh)), op, ": no LayerNorm for a vector weight_hh");
  check_batch_sizes(op, o.batch_sizes, steps, batch);
  check_optional(op, "rec_mask", o.rec_mask, like, {batch, hidden});
  check_optional(op, "zoneout", o.zoneout, like, {steps, batch, hidden});
  check_optional(op, "ln_hh", o.ln_hh, like, {hidden});
  check_optional(op, "bias_hh", o.bias_hh, like, {hidden});
  check_optional(op, "ln_ih", o.ln_ih, like, {hidden});
  check_optional(op, "bias_ih", o.bias_ih, like, {hidden});
}

void check_forward(const at::Tensor& xp, const at::Tensor& h0, const RnnOptions& o) {
  const char* op = "rnn_forward";
  check_floating(op, "xp", xp);
  TORCH_CHECK(xp.dim() == 3 && h0.dim() == 2, op, ": expected xp (T, B, H) and h0 (B, H), got ",
              xp.sizes(), " and ", h0.sizes());
  const int64_t steps = xp.size(0), batch = xp.size(1), hidden = xp.size(2);
  check_tensor(op, "xp", xp, xp, {steps, batch, hidden});
  check_tensor(op, "h0", h0, xp, {batch, hidden});
  check_options(op, xp, steps, batch, hidden, o);
}

// Saved tensors, in this order, between forward and backward. kInHat, kInRstd: LN(xp) before
// its gain, and its 1 / std per row.
enum Saved { kHs, kHNew, kRecHat, kRstd, kHin, kInHat, kInRstd, kNumSaved };

template <typename T>
std::vector<at::Tensor> forward_impl(const at::Tensor& xp, const at::Tensor& h0,
                                     const RnnOptions& o, bool keep) {
  const int64_t steps = xp.size(0), batch = xp.size(1), hidden = xp.size(2);
  const bool vector = o.weight_hh.dim() == 1, drop = has(o.rec_mask), zone = has(o.zoneout);
  const bool ln = has(o.ln_hh), ln_in = has(o.ln_ih), relu = o.relu;
  const bool ragged = !o.batch_sizes.empty() && o.batch_sizes.back() < batch;
  const int64_t kept = keep ? steps : 1;  // inference reuses one step of scratch
  const int64_t bh = batch * hidden;
  auto empty = at::empty({0}, xp.options());

  at::Tensor hs = buffer(xp, {steps + 1, batch, hidden}, false);
  hs[0].copy_(h0);
  at::Tensor hnew = zone ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor rec_hat = ln ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor rstd = ln ? buffer(xp, {kept, batch}, ragged) : empty;
  at::Tensor hin = drop ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor in_hat = ln_in ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor in_rstd = ln_in ? buffer(xp, {kept, batch}, ragged) : empty;

  const T* w_p = o.weight_hh.data_ptr<T>();
  const T* mask = drop ? o.rec_mask->data_ptr<T>() : nullptr;
  const T* zmask = zone ? o.zoneout->data_ptr<T>() : nullptr;
  const T* ln_w = ln ? o.ln_hh->data_ptr<T>() : nullptr;
  const T* b_hh = has(o.bias_hh) ? o.bias_hh->data_ptr<T>() : nullptr;
  const T* ln_in_w = ln_in ? o.ln_ih->data_ptr<T>() : nullptr;
  const T* b_ih = has(o.bias_ih) ? o.bias_ih->data_ptr<T>() : nullptr;
  const T* xp_p = xp.data_ptr<T>();
  T* hs_p = hs.data_ptr<T>();
  T* hnew_p = zone ? hnew.data_ptr<T>() : nullptr;
  T* rec_p = ln ? rec_hat.data_ptr<T>() : nullptr;
  T* rstd_p = ln ? rstd.data_ptr<T>() : nullptr;
  T* hin_p = drop ? hin.data_ptr<T>() : nullptr;
  T* in_hat_p = ln_in ? in_hat.data_ptr<T>() : nullptr;
  T* in_rstd_p = ln_in ? in_rstd.data_ptr<T>() : nullptr;

  // X_t of row r into `out`: xp_t, LayerNorm'd and scaled if on, plus b_ih.
  auto input_term = [&](int64_t t, int64_t k, int64_t r, T* out) {
    const T* x = xp_p + t * bh + r * hidden;
    if (ln_in) {
      T* x_hat = in_hat_p + k * bh + r * hidden;
      std::copy(x, x + hidden, x_hat);
      in_rstd_p[k * batch + r] = normalize_inplace(x_hat, hidden);
      for (int64_t j = 0; j < hidden; ++j) out[j] = x_hat[j] * ln_in_w[j];
    } else {
      std::copy(x, x + hidden, out);
    }
    if (b_ih) {
      for (int64_t j = 0; j < hidden; ++j) out[j] += b_ih[j];
    }
  };
  // A plain matrix recurrence lets the GEMM add R_t onto X_t; the others add it row by row.
  const bool gemm_onto_input = !vector && !ln;

  for (int64_t t = 0; t < steps; ++t) {
    const int64_t n = o.batch_sizes.empty() ? batch : o.batch_sizes[t];
    const int64_t k = keep ? t : 0;
    const T* hp_base = hs_p + t * bh;
    T* h_base = hs_p + (t + 1) * bh;
    T* pre_base = zone ? hnew_p + k * bh : h_base;  // h^_t: pre-activation, then activated
    const T* h_in = hp_base;
    if (drop) {
      T* hin_t = hin_p + k * bh;
      for (int64_t j = 0; j < n * hidden; ++j) hin_t[j] = hp_base[j] * mask[j];
      h_in = hin_t;
    }
    if (ln) {
      gemm(true, n, hidden, hidden, h_in, w_p, T(0), rec_p + k * bh);
    } else if (gemm_onto_input) {
      for_rows(n, hidden, [&](int64_t r) { input_term(t, k, r, pre_base + r * hidden); });
      gemm(true, n, hidden, hidden, h_in, w_p, T(1), pre_base);
    }
    const T* zh_base = zone ? zmask + t * bh : nullptr;
    for_rows(n, hidden, [&](int64_t r) {
      T* pre = pre_base + r * hidden;
      if (!gemm_onto_input) input_term(t, k, r, pre);
      if (ln) {
        T* rh = rec_p + k * bh + r * hidden;
        rstd_p[k * batch + r] = normalize_inplace(rh, hidden);
        for (int64_t j = 0; j < hidden; ++j) pre[j] += rh[j] * ln_w[j];
      } else if (vector) {
        const T* hi = h_in + r * hidden;
        for (int64_t j = 0; j < hidden; ++j) pre[j] += w_p[j] * hi[j];
      }
      if (b_hh) {
        for (int64_t j = 0; j < hidden; ++j) pre[j] += b_hh[j];
      }
      for (int64_t j = 0; j < hidden; ++j) pre[j] = activate(pre[j], relu);
      if (zone) {
        const T* hp = hp_base + r * hidden;
        const T* zh = zh_base + r * hidden;
        T* h = h_base + r * hidden;
        for (int64_t j = 0; j < hidden; ++j) h[j] = zh[j] * hp[j] + (T(1) - zh[j]) * pre[j];
      }
    });
    carry_rows(hp_base, h_base, n, batch, hidden);
  }
  std::vector<at::Tensor> saved(kNumSaved, empty);
  saved[kHs] = hs;
  saved[kHNew] = hnew;
  saved[kRecHat] = rec_hat;
  saved[kRstd] = rstd;
  saved[kHin] = hin;
  saved[kInHat] = in_hat;
  saved[kInRstd] = in_rstd;
  return saved;
}

void check_backward(const std::optional<at::Tensor>& grad_hs, at::TensorList saved,
                    const RnnOptions& o) {
  const char* op = "rnn_backward";
  check_saved_count(op, saved, kNumSaved);
  const at::Tensor& hs = saved[kHs];
  check_floating(op, "saved hs", hs);
  TORCH_CHECK(hs.dim() == 3 && hs.size(0) > 0, op, ": expected saved hs (T + 1, B, H), got ",
              hs.sizes());
  const int64_t steps = hs.size(0) - 1, batch = hs.size(1), hidden = hs.size(2);
  check_options(op, hs, steps, batch, hidden, o);
  check_tensor(op, "saved hs", hs, hs, {steps + 1, batch, hidden});
  if (has(o.zoneout)) check_tensor(op, "saved hnew", saved[kHNew], hs, {steps, batch, hidden});
  if (has(o.ln_hh)) {
    check_tensor(op, "saved rec_hat", saved[kRecHat], hs, {steps, batch, hidden});
    check_tensor(op, "saved rstd", saved[kRstd], hs, {steps, batch});
  }
  if (has(o.rec_mask)) check_tensor(op, "saved hin", saved[kHin], hs, {steps, batch, hidden});
  if (has(o.ln_ih)) {
    check_tensor(op, "saved in_hat", saved[kInHat], hs, {steps, batch, hidden});
    check_tensor(op, "saved in_rstd", saved[kInRstd], hs, {steps, batch});
  }
  check_optional(op, "grad_hs", grad_hs, hs, {steps, batch, hidden}, true);
}

template <typename T>
std::vector<at::Tensor> backward_impl(const std::optional<at::Tensor>& grad_hs,
                                      at::TensorList saved, const RnnOptions& o) {
  const at::Tensor& hs = saved[kHs];
  const int64_t steps = hs.size(0) - 1, batch = hs.size(1), hidden = hs.size(2);
  const int64_t bh = batch * hidden;
  const bool vector = o.weight_hh.dim() == 1, drop = has(o.rec_mask), zone = has(o.zoneout);
  const bool ln = has(o.ln_hh), ln_in = has(o.ln_ih), relu = o.relu;
  const bool bias = has(o.bias_hh) || has(o.bias_ih);
  const bool ragged = !o.batch_sizes.empty() && o.batch_sizes.back() < batch;
  const auto opts = hs.options();
  auto empty = at::empty({0}, opts);

  // dpre: gradient of pre. drec: of h~ W_hh^T, the rows of grad W_hh. dxp: of xp; without
  // input LayerNorm it is dpre, with it it is written over dpre once a step's dpre is used,
  // unless dpre must stay as drec.
  at::Tensor dh = at::zeros({batch, hidden}, opts);
  at::Tensor dpre = buffer(hs, {steps, batch, hidden}, ragged);
  at::Tensor drec = ln ? buffer(hs, {steps, batch, hidden}, ragged) : dpre;
  at::Tensor dxp = ln_in && !vector && !ln ? buffer(hs, {steps, batch, hidden}, ragged) : dpre;
  at::Tensor dhin = drop && !vector ? at::empty({batch, hidden}, opts) : empty;
  // Sums over steps and rows, in double, while each step is in cache: Σ dpre (b_hh and b_ih),
  // Σ dpre * LN(R) (g_hh), Σ dpre * LN(xp) (g_ih), Σ dpre * h~ (IndRNN's u).
  at::Tensor sums = at::zeros({4, hidden}, opts.dtype(at::kDouble));
  double* sum_dpre = bias ? sums[0].data_ptr<double>() : nullptr;
  double* sum_ln = ln ? sums[1].data_ptr<double>() : nullptr;
  double* sum_ln_in = ln_in ? sums[2].data_ptr<double>() : nullptr;
  double* sum_u = vector ? sums[3].data_ptr<double>() : nullptr;

  const T* w_p = o.weight_hh.data_ptr<T>();
  const T* mask = drop ? o.rec_mask->data_ptr<T>() : nullptr;
  const T* zmask = zone ? o.zoneout->data_ptr<T>() : nullptr;
  const T* ln_w = ln ? o.ln_hh->data_ptr<T>() : nullptr;
  const T* ln_in_w = ln_in ? o.ln_ih->data_ptr<T>() : nullptr;
  // The output gradient may be expanded (the gradient of a plain .sum() has stride 0).
  const at::Tensor grad_hs_dense = has(grad_hs) ? grad_hs->contiguous() : empty;
  const T* gh_p = has(grad_hs) ? grad_hs_dense.data_ptr<T>() : nullptr;
  const T* hs_p = hs.data_ptr<T>();
  // h^_t, whose activation derivative we need: stored apart only under zoneout.
  const T* hnew_p = zone ? saved[kHNew].data_ptr<T>() : hs_p + bh;
  const T* rh_p = ln ? saved[kRecHat].data_ptr<T>() : nullptr;
  const T* rstd_p = ln ? saved[kRstd].data_ptr<T>() : nullptr;
  const T* hin_p = drop ? saved[kHin].data_ptr<T>() : hs_p;  // h~ of each step
  const T* in_hat_p = ln_in ? saved[kInHat].data_ptr<T>() : nullptr;
  const T* in_rstd_p = ln_in ? saved[kInRstd].data_ptr<T>() : nullptr;
  T* dh_p = dh.data_ptr<T>();
  T* dpre_p = dpre.data_ptr<T>();
  T* drec_p = drec.data_ptr<T>();
  T* dxp_p = dxp.data_ptr<T>();
  T* dhin_p = drop && !vector ? dhin.data_ptr<T>() : nullptr;

  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t n = o.batch_sizes.empty() ? batch : o.batch_sizes[t];
    const int64_t off = t * bh;
    if (gh_p) {
      const T* g = gh_p + off;
      for (int64_t j = 0; j < bh; ++j) dh_p[j] += g[j];
    }
    for_rows(n, hidden, [&](int64_t r) {
      const int64_t row = off + r * hidden;
      const T* y = hnew_p + row;
      T* dhr = dh_p + r * hidden;
      T* dp = dpre_p + row;
      // Zoneout passes z dh straight to h_{t-1}; the rest goes through h^_t.
      const T* zh = zone ? zmask + row : nullptr;
      for (int64_t j = 0; j < hidden; ++j) {
        const T d = dhr[j];
        dp[j] = activate_grad(zone ? d * (T(1) - zh[j]) : d, y[j], relu);
        dhr[j] = zone ? d * zh[j] : T(0);
      }
      if (vector) {  // dh_{t-1} += dpre * u * m: IndRNN's recurrence is element-wise
        const T* m = drop ? mask + r * hidden : nullptr;
        for (int64_t j = 0; j < hidden; ++j) dhr[j] += dp[j] * w_p[j] * (drop ? m[j] : T(1));
      }
      if (ln) {
        T* dr = drec_p + row;
        for (int64_t j = 0; j < hidden; ++j) dr[j] = dp[j] * ln_w[j];
        normalize_backward(dr, rh_p + row, rstd_p[t * batch + r], hidden, dr);
      }
    });
    // The sums run over rows, so on one thread; before dxp may overwrite dpre.
    const T* dpre_t = dpre_p + off;
    if (bias) accumulate_rows(n, hidden, dpre_t, hidden, sum_dpre);
    if (ln) accumulate_rows(n, hidden, dpre_t, hidden, rh_p + off, hidden, sum_ln);
    if (vector) accumulate_rows(n, hidden, dpre_t, hidden, hin_p + off, hidden, sum_u);
    if (ln_in) {
      accumulate_rows(n, hidden, dpre_t, hidden, in_hat_p + off, hidden, sum_ln_in);
      for_rows(n, hidden, [&](int64_t r) {
        const int64_t row = off + r * hidden;
        const T* dp = dpre_p + row;
        T* dx = dxp_p + row;  // may be dp itself
        for (int64_t j = 0; j < hidden; ++j) dx[j] = dp[j] * ln_in_w[j];
        normalize_backward(dx, in_hat_p + row, in_rstd_p[t * batch + r], hidden, dx);
      });
    }
    if (vector) continue;
    // dh_{t-1} += (dR_t W_hh) * m
    const T* drec_t = drec_p + off;
    if (drop) {
      gemm(false, n, hidden, hidden, drec_t, w_p, T(0), dhin_p);
      for (int64_t j = 0; j < n * hidden; ++j) dh_p[j] += dhin_p[j] * mask[j];
    } else {
      gemm(false, n, hidden, hidden, drec_t, w_p, T(1), dh_p);
    }
  }

  const at::ScalarType dtype = hs.scalar_type();
  at::Tensor grad_w = vector ? sums[3].to(dtype)
                             : drec.reshape({steps * batch, hidden}).t().mm(
                                   (drop ? saved[kHin] : hs.narrow(0, 0, steps))
                                       .reshape({steps * batch, hidden}));
  at::Tensor grad_bias = bias ? sums[0].to(dtype) : empty;
  return {dxp,
          dh,
          grad_w,
          ln ? sums[1].to(dtype) : empty,
          has(o.bias_hh) ? grad_bias : empty,
          ln_in ? sums[2].to(dtype) : empty,
          has(o.bias_ih) ? grad_bias : empty};
}

std::vector<at::Tensor> rnn_forward(const at::Tensor& xp, const at::Tensor& h0,
                                    const at::Tensor& weight_hh, c10::IntArrayRef batch_sizes,
                                    const std::optional<at::Tensor>& rec_mask,
                                    const std::optional<at::Tensor>& zoneout,
                                    const std::optional<at::Tensor>& ln_hh,
                                    const std::optional<at::Tensor>& bias_hh,
                                    const std::optional<at::Tensor>& ln_ih,
                                    const std::optional<at::Tensor>& bias_ih, bool relu,
                                    bool keep) {
  RnnOptions o{weight_hh, batch_sizes, rec_mask, zoneout, ln_hh, bias_hh, ln_ih, bias_ih, relu};
  check_forward(xp, h0, o);
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "rnnlab_rnn_forward",
                             [&] { out = forward_impl<scalar_t>(xp, h0, o, keep); });
  return out;
}

std::vector<at::Tensor> rnn_backward(
    const std::optional<at::Tensor>& grad_hs, at::TensorList saved, const at::Tensor& weight_hh,
    c10::IntArrayRef batch_sizes, const std::optional<at::Tensor>& rec_mask,
    const std::optional<at::Tensor>& zoneout, const std::optional<at::Tensor>& ln_hh,
    const std::optional<at::Tensor>& bias_hh, const std::optional<at::Tensor>& ln_ih,
    const std::optional<at::Tensor>& bias_ih, bool relu) {
  RnnOptions o{weight_hh, batch_sizes, rec_mask, zoneout, ln_hh, bias_hh, ln_ih, bias_ih, relu};
  check_backward(grad_hs, saved, o);
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(saved[kHs].scalar_type(), "rnnlab_rnn_backward",
                             [&] { out = backward_impl<scalar_t>(grad_hs, saved, o); });
  return out;
}

}  // namespace
}  // namespace rnnlab

TORCH_LIBRARY_FRAGMENT(rnnlab, m) {
  m.def(
      "rnn_forward(Tensor xp, Tensor h0, Tensor weight_hh, int[] batch_sizes, Tensor? rec_mask, "
      "Tensor? zoneout, Tensor? ln_hh, Tensor? bias_hh, Tensor? ln_ih, Tensor? bias_ih, "
      "bool relu, bool keep) -> Tensor[]");
  m.def(
      "rnn_backward(Tensor? grad_hs, Tensor[] saved, Tensor weight_hh, int[] batch_sizes, "
      "Tensor? rec_mask, Tensor? zoneout, Tensor? ln_hh, Tensor? bias_hh, Tensor? ln_ih, "
      "Tensor? bias_ih, bool relu) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnlab, CPU, m) {
  m.impl("rnn_forward", &rnnlab::rnn_forward);
  m.impl("rnn_backward", &rnnlab::rnn_backward);
}
