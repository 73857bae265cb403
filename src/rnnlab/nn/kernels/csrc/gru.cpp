// Fused GRU-family recurrence (CPU): forward and hand-written BPTT backward, one layer and
// direction, for the loop engine. One call runs the whole sequence with torch's BLAS for the
// matrix products and fused passes for the gate maths. Equations: docs/equations.md (gru.1-4,
// cho.1-4), gate order r, z, n as in torch.
//
//   X = in(xp_t)                         in(y) = y + b_ih, or LN(y) * w_ih + b_ih with LN per
//                                        gate block (input LayerNorm); without ln_ih and
//                                        bias_ih, X = xp_t
//   torch form (gru), ONE GEMM per step:
//     R = rec(u W_hh^T)                  rec(y) = y + b_hh, or LN(y) * w_hh + b_hh with LN per
//     r = σ(X_r + R_r)                   gate block (recurrent LayerNorm)
//     z = σ(X_z + R_z)
//     n = tanh(X_n + r R_n)
//   Cho form (gru-cho), TWO GEMMs per step (the second needs r):
//     [R_r, R_z] = rec(u W_rz^T)         r, z as above
//     n = tanh(X_n + rec(q W_n^T)),      q = r u
//   both:  h' = (1 - z) n + z h_{t-1};  zoneout: h_t = m_t h_{t-1} + (1 - m_t) h', else h_t = h'
// where u = h_{t-1} * m (variational recurrent dropout: the carried h_{t-1} is not dropped).
// xp is the caller's input projection of all steps, x W_ih^T (one GEMM); in() runs per step
// here so that the input LayerNorm needs no autograd graph of its own. The caller may instead
// fold b_ih into xp when there is no input LayerNorm. b_hh is added here because the torch
// form gates b_hn by r.
#include <torch/library.h>

#include "common.h"

namespace rnnlab {
namespace {

struct GruOptions {
  const at::Tensor& weight_hh;                 // (3H, H), blocks r, z, n
  c10::IntArrayRef batch_sizes;
  const std::optional<at::Tensor>& rec_mask;   // (B, H)
  const std::optional<at::Tensor>& zoneout;    // (T, B, H): keep-mask of h
  const std::optional<at::Tensor>& ln_hh;      // (3H,) LayerNorm gain of the recurrent term
  const std::optional<at::Tensor>& bias_hh;    // (3H,)
  const std::optional<at::Tensor>& ln_ih;      // (3H,) LayerNorm gain of xp
  const std::optional<at::Tensor>& bias_ih;    // (3H,)
  bool cho;
  // Whether X differs from xp (in() above).
  bool input_affine() const { return has(ln_ih) || has(bias_ih); }
};

// Saved tensors, in this order, between forward and backward.
//   kHs     (T + 1, B, H) h_0 .. h_T
//   kActs   (T, B, 3H) r, z, n
//   kRec    LayerNorm only: the normalised recurrent projection, torch (T, B, 3H), Cho
//           (T, B, 2H) for r, z; Cho without LayerNorm: one step of GEMM scratch
//   kRecN   torch: R_n (T, B, H) after LayerNorm and bias (dr needs it); Cho: the normalised
//           n projection (T, B, H) with LayerNorm, else one step of GEMM scratch
//   kRstd   (T, B, 3) LayerNorm reciprocal std per gate block
//   kHin    (T, B, H) u = h_{t-1} * m (recurrent dropout)
//   kQ      (T, B, H) q = r u (Cho)
//   kXp     input LayerNorm only: xp itself (the backward recomputes the normalised xp from
//           it and the moments, instead of a (T, B, 3H) buffer written in the forward)
//   kMeanIn (T, B, 3) input LayerNorm mean per gate block
//   kRstdIn (T, B, 3) input LayerNorm reciprocal std per gate block
enum Saved { kHs, kActs, kRec, kRecN, kRstd, kHin, kQ, kXp, kMeanIn, kRstdIn, kNumSaved };

// The arguments both ops share (see common.h), for T steps, B rows and H units.
void check_options(const char* op, const at::Tensor& like, int64_t steps, int64_t batch,
                   int64_t hidden, const GruOptions& o) {
  check_tensor(op, "weight_hh", o.weight_hh, like, {3 * hidden, hidden});
  check_batch_sizes(op, o.batch_sizes, steps, batch);
  check_optional(op, "rec_mask", o.rec_mask, like, {batch, hidden});
  check_optional(op, "zoneout", o.zoneout, like, {steps, batch, hidden});
  check_optional(op, "ln_hh", o.ln_hh, like, {3 * hidden});
  check_optional(op, "bias_hh", o.bias_hh, like, {3 * hidden});
  check_optional(op, "ln_ih", o.ln_ih, like, {3 * hidden});
  check_optional(op, "bias_ih", o.bias_ih, like, {3 * hidden});
}

void check_forward(const at::Tensor& xp, const at::Tensor& h0, const GruOptions& o) {
  const char* op = "gru_forward";
  check_floating(op, "xp", xp);
  TORCH_CHECK(xp.dim() == 3 && h0.dim() == 2 && h0.size(1) > 0, op,
              ": expected xp (T, B, 3H) and h0 (B, H) with H > 0, got ", xp.sizes(), " and ",
              h0.sizes());
  const int64_t steps = xp.size(0), batch = xp.size(1), hidden = h0.size(1);
  check_tensor(op, "xp", xp, xp, {steps, batch, 3 * hidden});
  check_tensor(op, "h0", h0, xp, {batch, hidden});
  check_options(op, xp, steps, batch, hidden, o);
}

void check_backward(const std::optional<at::Tensor>& grad_hs, at::TensorList saved,
                    const GruOptions& o) {
  const char* op = "gru_backward";
  check_saved_count(op, saved, kNumSaved);
  const at::Tensor& acts = saved[kActs];
  check_floating(op, "saved acts", acts);
  TORCH_CHECK(acts.dim() == 3 && o.weight_hh.dim() == 2 && o.weight_hh.size(1) > 0, op,
              ": expected saved acts (T, B, 3H) and weight_hh (3H, H), got ", acts.sizes(),
              " and ", o.weight_hh.sizes());
  const int64_t steps = acts.size(0), batch = acts.size(1), hidden = o.weight_hh.size(1);
  const bool ln = has(o.ln_hh);
  const int64_t kept_ln = ln ? steps : 1;
  check_options(op, acts, steps, batch, hidden, o);
  check_tensor(op, "saved hs", saved[kHs], acts, {steps + 1, batch, hidden});
  check_tensor(op, "saved acts", acts, acts, {steps, batch, 3 * hidden});
  if (o.cho) {
    check_tensor(op, "saved rec", saved[kRec], acts, {kept_ln, batch, 2 * hidden});
    check_tensor(op, "saved rec_n", saved[kRecN], acts, {kept_ln, batch, hidden});
    check_tensor(op, "saved q", saved[kQ], acts, {steps, batch, hidden});
  } else {
    if (ln) check_tensor(op, "saved rec", saved[kRec], acts, {steps, batch, 3 * hidden});
    check_tensor(op, "saved rec_n", saved[kRecN], acts, {steps, batch, hidden});
  }
  if (ln) check_tensor(op, "saved rstd", saved[kRstd], acts, {steps, batch, 3});
  if (has(o.rec_mask)) check_tensor(op, "saved hin", saved[kHin], acts, {steps, batch, hidden});
  if (has(o.ln_ih)) {
    check_tensor(op, "saved xp", saved[kXp], acts, {steps, batch, 3 * hidden});
    check_tensor(op, "saved mean_in", saved[kMeanIn], acts, {steps, batch, 3});
    check_tensor(op, "saved rstd_in", saved[kRstdIn], acts, {steps, batch, 3});
  }
  check_optional(op, "grad_hs", grad_hs, acts, {steps, batch, hidden}, true);
}

// h' = (1 - z) n + z h_{t-1}, then zoneout; one row.
template <typename T>
inline void new_state(const T* z, const T* cand, const T* hp, const T* zm, int64_t hidden, T* h) {
  if (zm) {
    for (int64_t j = 0; j < hidden; ++j) {
      const T mixed = cand[j] + z[j] * (hp[j] - cand[j]);
      h[j] = zm[j] * hp[j] + (T(1) - zm[j]) * mixed;
    }
  } else {
    for (int64_t j = 0; j < hidden; ++j) h[j] = cand[j] + z[j] * (hp[j] - cand[j]);
  }
}

template <typename T>
std::vector<at::Tensor> forward_impl(const at::Tensor& xp, const at::Tensor& h0,
                                     const GruOptions& o, bool keep) {
  const int64_t steps = xp.size(0), batch = xp.size(1), gh = xp.size(2);
  const int64_t hidden = h0.size(1);
  const bool drop = has(o.rec_mask), zone = has(o.zoneout), ln = has(o.ln_hh);
  const bool affine = o.input_affine(), ln_in = has(o.ln_ih);
  const bool ragged = !o.batch_sizes.empty() && o.batch_sizes.back() < batch;
  const int64_t kept = keep ? steps : 1;  // inference reuses one step of scratch
  const int64_t kept_ln = ln ? kept : 1;  // Cho's GEMM outputs outlive a step only for LN
  const int64_t rec_width = o.cho ? 2 * hidden : gh;
  auto empty = at::empty({0}, xp.options());

  at::Tensor hs = buffer(xp, {steps + 1, batch, hidden}, false);
  hs[0].copy_(h0);
  at::Tensor acts = buffer(xp, {kept, batch, gh}, ragged);
  at::Tensor rec = o.cho ? buffer(xp, {kept_ln, batch, rec_width}, ragged)
                         : ln ? buffer(xp, {kept, batch, gh}, ragged) : empty;
  at::Tensor rec_n = buffer(xp, {o.cho ? kept_ln : kept, batch, hidden}, ragged);
  at::Tensor rstd = ln ? buffer(xp, {kept, batch, 3}, ragged) : empty;
  at::Tensor hin = drop ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor q = o.cho ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor mean_in = ln_in ? buffer(xp, {kept, batch, 3}, ragged) : empty;
  at::Tensor rstd_in = ln_in ? buffer(xp, {kept, batch, 3}, ragged) : empty;
  at::Tensor x_in = affine ? at::empty({batch, gh}, xp.options()) : empty;  // X of one step
  // A zero bias keeps the gate loops free of branches.
  at::Tensor bias = has(o.bias_hh) ? *o.bias_hh : at::zeros({gh}, xp.options());
  at::Tensor bias_in = has(o.bias_ih) ? *o.bias_ih : at::zeros({gh}, xp.options());

  const T* w_p = o.weight_hh.data_ptr<T>();
  const T* mask = drop ? o.rec_mask->data_ptr<T>() : nullptr;
  const T* zmask = zone ? o.zoneout->data_ptr<T>() : nullptr;
  const T* ln_w = ln ? o.ln_hh->data_ptr<T>() : nullptr;
  const T* b_hh = bias.data_ptr<T>();
  const T* ln_in_w = ln_in ? o.ln_ih->data_ptr<T>() : nullptr;
  const T* b_ih = bias_in.data_ptr<T>();
  const T* xp_p = xp.data_ptr<T>();
  T* x_in_p = affine ? x_in.data_ptr<T>() : nullptr;
  T* hs_p = hs.data_ptr<T>();

  for (int64_t t = 0; t < steps; ++t) {
    const int64_t n = o.batch_sizes.empty() ? batch : o.batch_sizes[t];
    const int64_t k = keep ? t : 0;
    const int64_t k_ln = o.cho && !ln ? 0 : k;
    T* a_base = acts.data_ptr<T>() + k * batch * gh;
    T* rec_base = rec.numel() ? rec.data_ptr<T>() + k_ln * batch * rec_width : nullptr;
    T* rn_base = rec_n.data_ptr<T>() + k_ln * batch * hidden;
    T* rs_base = ln ? rstd.data_ptr<T>() + k * batch * 3 : nullptr;
    const T* hp_base = hs_p + t * batch * hidden;
    T* h_base = hs_p + (t + 1) * batch * hidden;
    const T* zm_base = zone ? zmask + t * batch * hidden : nullptr;
    const T* xp_t = xp_p + t * batch * gh;
    const T* x_step = affine ? x_in_p : xp_t;  // X of this step
    T* mi_base = ln_in ? mean_in.data_ptr<T>() + k * batch * 3 : nullptr;
    T* rsi_base = ln_in ? rstd_in.data_ptr<T>() + k * batch * 3 : nullptr;
    // X of row r (its first gate pass computes it).
    auto input_row = [&](int64_t r) -> const T* {
      const T* x = xp_t + r * gh;
      if (!affine) return x;
      T* xi = x_in_p + r * gh;
      if (ln_in) {
        T* mean = mi_base + r * 3;
        T* rstd = rsi_base + r * 3;
        for (int64_t g = 0; g < 3; ++g) rstd[g] = moments(x + g * hidden, hidden, mean[g]);
        normalized(x, mean, rstd, 3, hidden, xi);
        for (int64_t j = 0; j < gh; ++j) xi[j] = xi[j] * ln_in_w[j] + b_ih[j];
      } else {
        for (int64_t j = 0; j < gh; ++j) xi[j] = x[j] + b_ih[j];
      }
      return xi;
    };
    const T* h_in = hp_base;
    if (drop) {
      T* hin_t = hin.data_ptr<T>() + k * batch * hidden;
      for (int64_t j = 0; j < n * hidden; ++j) hin_t[j] = hp_base[j] * mask[j];
      h_in = hin_t;
    }

    if (!o.cho) {
      gemm(true, n, gh, hidden, h_in, w_p, T(0), ln ? rec_base : a_base);
      for_rows(n, gh, [&](int64_t r) {
        T* a = a_base + r * gh;
        const T* x = input_row(r);
        T* rn = rn_base + r * hidden;
        if (ln) {
          T* rh = rec_base + r * gh;
          for (int64_t g = 0; g < 3; ++g)
            rs_base[r * 3 + g] = normalize_inplace(rh + g * hidden, hidden);
          for (int64_t j = 0; j < 2 * hidden; ++j) a[j] = sigmoid(x[j] + rh[j] * ln_w[j] + b_hh[j]);
          for (int64_t j = 2 * hidden; j < gh; ++j) rn[j - 2 * hidden] = rh[j] * ln_w[j] + b_hh[j];
        } else {
          for (int64_t j = 0; j < 2 * hidden; ++j) a[j] = sigmoid(x[j] + a[j] + b_hh[j]);
          for (int64_t j = 2 * hidden; j < gh; ++j) rn[j - 2 * hidden] = a[j] + b_hh[j];
        }
        T* cand = a + 2 * hidden;
        for (int64_t j = 0; j < hidden; ++j) cand[j] = std::tanh(x[2 * hidden + j] + a[j] * rn[j]);
        new_state(a + hidden, cand, hp_base + r * hidden, zone ? zm_base + r * hidden : nullptr,
                  hidden, h_base + r * hidden);
      });
    } else {
      T* q_base = q.data_ptr<T>() + k * batch * hidden;
      gemm(true, n, rec_width, hidden, h_in, w_p, T(0), rec_base);
      for_rows(n, rec_width, [&](int64_t r) {
        T* a = a_base + r * gh;
        const T* x = input_row(r);
        T* rh = rec_base + r * rec_width;
        if (ln) {
          for (int64_t g = 0; g < 2; ++g)
            rs_base[r * 3 + g] = normalize_inplace(rh + g * hidden, hidden);
          for (int64_t j = 0; j < rec_width; ++j) a[j] = sigmoid(x[j] + rh[j] * ln_w[j] + b_hh[j]);
        } else {
          for (int64_t j = 0; j < rec_width; ++j) a[j] = sigmoid(x[j] + rh[j] + b_hh[j]);
        }
        const T* hi = h_in + r * hidden;
        T* qr = q_base + r * hidden;
        for (int64_t j = 0; j < hidden; ++j) qr[j] = a[j] * hi[j];
      });
      gemm(true, n, hidden, hidden, q_base, w_p + 2 * hidden * hidden, T(0), rn_base);
      for_rows(n, hidden, [&](int64_t r) {
        T* a = a_base + r * gh;
        const T* x = x_step + r * gh + 2 * hidden;
        T* rn = rn_base + r * hidden;
        const T* lw = ln ? ln_w + 2 * hidden : nullptr;
        const T* b = b_hh + 2 * hidden;
        T* cand = a + 2 * hidden;
        if (ln) {
          rs_base[r * 3 + 2] = normalize_inplace(rn, hidden);
          for (int64_t j = 0; j < hidden; ++j) cand[j] = std::tanh(x[j] + rn[j] * lw[j] + b[j]);
        } else {
          for (int64_t j = 0; j < hidden; ++j) cand[j] = std::tanh(x[j] + rn[j] + b[j]);
        }
        new_state(a + hidden, cand, hp_base + r * hidden, zone ? zm_base + r * hidden : nullptr,
                  hidden, h_base + r * hidden);
      });
    }
    carry_rows(hp_base, h_base, n, batch, hidden);
  }
  std::vector<at::Tensor> saved(kNumSaved, empty);
  saved[kHs] = hs;
  saved[kActs] = acts;
  saved[kRec] = rec;
  saved[kRecN] = rec_n;
  saved[kRstd] = rstd;
  saved[kHin] = hin;
  saved[kQ] = q;
  if (ln_in) saved[kXp] = xp;
  saved[kMeanIn] = mean_in;
  saved[kRstdIn] = rstd_in;
  return saved;
}

// Gradients of a LayerNorm gain and its bias over rows [0, n) of one step: Σ dpost * hat and
// Σ dpost, where dpost is the gradient after LayerNorm and bias (null sums are skipped).
template <typename T>
inline void accumulate_gains(int64_t n, int64_t width, const T* post, int64_t post_stride,
                             const T* hat, int64_t hat_stride, double* bias, double* gain) {
  if (bias) accumulate_rows(n, width, post, post_stride, bias);
  if (gain) accumulate_rows(n, width, post, post_stride, hat, hat_stride, gain);
}

template <typename T>
std::vector<at::Tensor> backward_impl(const std::optional<at::Tensor>& grad_hs,
                                      at::TensorList saved, const GruOptions& o) {
  const at::Tensor& hs = saved[kHs];
  const at::Tensor& acts = saved[kActs];
  const int64_t steps = acts.size(0), batch = acts.size(1), gh = acts.size(2);
  const int64_t hidden = hs.size(2), rz = 2 * hidden;
  const bool drop = has(o.rec_mask), zone = has(o.zoneout), ln = has(o.ln_hh);
  const bool affine = o.input_affine(), ln_in = has(o.ln_ih);
  const bool ragged = !o.batch_sizes.empty() && o.batch_sizes.back() < batch;
  const auto opts = acts.options();
  auto empty = at::empty({0}, opts);

  // dxp: gradient of xp. dx_in: of X, one step (input LayerNorm; otherwise X's gradient is
  // dxp). drec: of the recurrent GEMM outputs (before LayerNorm), the rows of grad W_hh; torch
  // (T, B, 3H), Cho r, z (T, B, 2H) and n in drec_n (T, B, H). dpost: of R after LayerNorm
  // and bias, one step (torch form with LayerNorm; otherwise it is drec, or for Cho dX).
  at::Tensor dh = at::zeros({batch, hidden}, opts);
  at::Tensor dxp = buffer(acts, {steps, batch, gh}, ragged);
  at::Tensor drec = buffer(acts, {steps, batch, o.cho ? rz : gh}, ragged);
  at::Tensor drec_n = o.cho ? buffer(acts, {steps, batch, hidden}, ragged) : empty;
  at::Tensor dpost = !o.cho && ln ? at::empty({batch, gh}, opts) : empty;
  at::Tensor dx_in = ln_in ? at::empty({batch, gh}, opts) : empty;
  at::Tensor xhat = ln_in ? at::empty({batch, gh}, opts) : empty;  // normalised xp, one step
  const bool bias = has(o.bias_hh), bias_in = has(o.bias_ih);
  // Gain and bias gradients are summed in double over T * B rows.
  const auto accumulator = [&](bool on) {
    return at::zeros({on ? gh : 0}, opts.dtype(at::kDouble));
  };
  at::Tensor grad_bias = accumulator(bias), grad_ln = accumulator(ln);
  at::Tensor grad_bias_in = accumulator(bias_in), grad_ln_in = accumulator(ln_in);
  double* gbias_p = bias ? grad_bias.data_ptr<double>() : nullptr;
  double* gln_p = ln ? grad_ln.data_ptr<double>() : nullptr;
  double* gbias_in_p = bias_in ? grad_bias_in.data_ptr<double>() : nullptr;
  double* gln_in_p = ln_in ? grad_ln_in.data_ptr<double>() : nullptr;
  at::Tensor dq = o.cho ? at::empty({batch, hidden}, opts) : empty;
  at::Tensor dhin = drop ? at::empty({batch, hidden}, opts) : empty;

  const T* w_p = o.weight_hh.data_ptr<T>();
  const T* mask = drop ? o.rec_mask->data_ptr<T>() : nullptr;
  const T* zmask = zone ? o.zoneout->data_ptr<T>() : nullptr;
  const T* ln_w = ln ? o.ln_hh->data_ptr<T>() : nullptr;
  const T* ln_in_w = ln_in ? o.ln_ih->data_ptr<T>() : nullptr;
  const T* xp_p = ln_in ? saved[kXp].data_ptr<T>() : nullptr;
  const T* mi_p = ln_in ? saved[kMeanIn].data_ptr<T>() : nullptr;
  const T* rsi_p = ln_in ? saved[kRstdIn].data_ptr<T>() : nullptr;
  T* xhat_p = ln_in ? xhat.data_ptr<T>() : nullptr;
  // The gradient of hs.sum() is an expanded (stride 0) tensor.
  const at::Tensor grad_hs_dense = has(grad_hs) ? grad_hs->contiguous() : empty;
  const T* gh_p = has(grad_hs) ? grad_hs_dense.data_ptr<T>() : nullptr;
  const T* hs_p = hs.data_ptr<T>();
  const T* acts_p = acts.data_ptr<T>();
  const T* rec_p = ln ? saved[kRec].data_ptr<T>() : nullptr;
  const T* rn_p = saved[kRecN].data_ptr<T>();
  const T* rs_p = ln ? saved[kRstd].data_ptr<T>() : nullptr;
  const T* hin_p = drop ? saved[kHin].data_ptr<T>() : hs_p;
  T* dh_p = dh.data_ptr<T>();
  T* dxp_p = dxp.data_ptr<T>();
  T* drec_p = drec.data_ptr<T>();
  T* drn_p = o.cho ? drec_n.data_ptr<T>() : nullptr;
  T* dq_p = o.cho ? dq.data_ptr<T>() : nullptr;
  T* dhin_p = drop ? dhin.data_ptr<T>() : nullptr;

  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t n = o.batch_sizes.empty() ? batch : o.batch_sizes[t];
    const int64_t off_h = t * batch * hidden, off_g = t * batch * gh;
    T* dx_step = ln_in ? dx_in.data_ptr<T>() : dxp_p + off_g;  // dX of this step
    if (gh_p) {
      const T* g = gh_p + off_h;
      for (int64_t j = 0; j < batch * hidden; ++j) dh_p[j] += g[j];
    }
    // Through h' = (1 - z) n + z h_{t-1} (and zoneout): the n and z pre-activation gradients;
    // dh becomes the direct part of dh_{t-1}.
    auto through_state = [&](int64_t r, T* dx) {
      const int64_t row_h = off_h + r * hidden;
      const T* a = acts_p + off_g + r * gh;
      const T* z = a + hidden;
      const T* cand = a + 2 * hidden;
      const T* hp = hs_p + row_h;
      const T* zm = zone ? zmask + row_h : nullptr;
      T* dhr = dh_p + r * hidden;
      for (int64_t j = 0; j < hidden; ++j) {
        const T dmix = zone ? dhr[j] * (T(1) - zm[j]) : dhr[j];
        dx[2 * hidden + j] = dmix * (T(1) - z[j]) * (T(1) - cand[j] * cand[j]);
        dx[hidden + j] = dmix * (hp[j] - cand[j]) * z[j] * (T(1) - z[j]);
        dhr[j] = dmix * z[j] + (zone ? dhr[j] * zm[j] : T(0));
      }
    };
    // dR (before LayerNorm) of `blocks` gate blocks from dR after it.
    auto through_norm = [&](const T* dr_post, const T* rec_hat, const T* rstd, const T* gain,
                            int64_t blocks, T* dr) {
      for (int64_t j = 0; j < blocks * hidden; ++j) dr[j] = dr_post[j] * gain[j];
      for (int64_t g = 0; g < blocks; ++g)
        normalize_backward(dr + g * hidden, rec_hat + g * hidden, rstd[g], hidden, dr + g * hidden);
    };
    // dxp of row r from its finished dX (input LayerNorm).
    auto through_input_norm = [&](int64_t r) {
      if (ln_in) {
        const int64_t row_g = off_g + r * gh;
        const int64_t row_s = (t * batch + r) * 3;
        T* xh = xhat_p + r * gh;
        normalized(xp_p + row_g, mi_p + row_s, rsi_p + row_s, 3, hidden, xh);
        through_norm(dx_step + r * gh, xh, rsi_p + row_s, ln_in_w, 3, dxp_p + row_g);
      }
    };

    if (!o.cho) {
      for_rows(n, gh, [&](int64_t r) {
        const int64_t row_g = off_g + r * gh;
        const T* a = acts_p + row_g;
        const T* rn = rn_p + off_h + r * hidden;
        T* dx = dx_step + r * gh;
        T* dp = ln ? dpost.data_ptr<T>() + r * gh : drec_p + row_g;
        through_state(r, dx);
        // n = tanh(xp_n + r R_n): dR_n = dn_pre r, dr_pre = dn_pre R_n r (1 - r).
        for (int64_t j = 0; j < hidden; ++j) {
          const T dn_pre = dx[2 * hidden + j];
          dx[j] = dn_pre * rn[j] * a[j] * (T(1) - a[j]);
          dp[j] = dx[j];
          dp[hidden + j] = dx[hidden + j];
          dp[2 * hidden + j] = dn_pre * a[j];
        }
        if (ln) {
          through_norm(dp, rec_p + row_g, rs_p + (t * batch + r) * 3, ln_w, 3, drec_p + row_g);
        }
        through_input_norm(r);
      });
      accumulate_gains(n, gh, ln ? dpost.data_ptr<T>() : drec_p + off_g, gh,
                       ln ? rec_p + off_g : nullptr, gh, gbias_p, gln_p);
    } else {
      for_rows(n, hidden, [&](int64_t r) {
        const int64_t row_h = off_h + r * hidden;
        T* dx = dx_step + r * gh;
        through_state(r, dx);
        if (ln) {
          through_norm(dx + 2 * hidden, rn_p + row_h, rs_p + (t * batch + r) * 3 + 2,
                       ln_w + 2 * hidden, 1, drn_p + row_h);
        } else {
          std::copy(dx + 2 * hidden, dx + gh, drn_p + row_h);
        }
      });
      // dq = dR_n W_n; then q = r u gives dr and part of du.
      gemm(false, n, hidden, hidden, drn_p + off_h, w_p + 2 * hidden * hidden, T(0), dq_p);
      for_rows(n, rz, [&](int64_t r) {
        const int64_t row_g = off_g + r * gh, row_h = off_h + r * hidden;
        const T* a = acts_p + row_g;
        const T* hi = hin_p + row_h;
        const T* dqr = dq_p + r * hidden;
        T* dx = dx_step + r * gh;
        for (int64_t j = 0; j < hidden; ++j) dx[j] = dqr[j] * hi[j] * a[j] * (T(1) - a[j]);
        T* dr = drec_p + (t * batch + r) * rz;
        if (ln) {
          through_norm(dx, rec_p + (t * batch + r) * rz, rs_p + (t * batch + r) * 3, ln_w, 2, dr);
        } else {
          std::copy(dx, dx + rz, dr);
        }
        T* dhi = drop ? dhin_p + r * hidden : dh_p + r * hidden;
        if (drop) {
          for (int64_t j = 0; j < hidden; ++j) dhi[j] = dqr[j] * a[j];
        } else {
          for (int64_t j = 0; j < hidden; ++j) dhi[j] += dqr[j] * a[j];
        }
        through_input_norm(r);
      });
      accumulate_gains(n, rz, dx_step, gh, ln ? rec_p + t * batch * rz : nullptr, rz, gbias_p,
                       gln_p);
      accumulate_gains(n, hidden, dx_step + rz, gh, ln ? rn_p + off_h : nullptr, hidden,
                       bias ? gbias_p + rz : nullptr, ln ? gln_p + rz : nullptr);
    }
    if (affine) {
      accumulate_gains(n, gh, dx_step, gh, xhat_p, gh, gbias_in_p, gln_in_p);
    }
    // du (+)= dR W_hh (Cho: the r, z blocks), then dh_{t-1} += du * m.
    const T* drec_t = drec_p + t * batch * drec.size(2);
    const int64_t width = o.cho ? rz : gh;
    if (drop) {
      gemm(false, n, hidden, width, drec_t, w_p, T(o.cho ? 1 : 0), dhin_p);
      for (int64_t j = 0; j < n * hidden; ++j) dh_p[j] += dhin_p[j] * mask[j];
    } else {
      gemm(false, n, hidden, width, drec_t, w_p, T(1), dh_p);
    }
  }

  const at::Tensor inputs = (drop ? saved[kHin] : hs.narrow(0, 0, steps)).reshape({-1, hidden});
  at::Tensor grad_w = at::empty({gh, hidden}, opts);
  at::Tensor grad_w_rec = grad_w.narrow(0, 0, drec.size(2));  // Cho: the r, z blocks
  at::mm_out(grad_w_rec, drec.reshape({-1, drec.size(2)}).t(), inputs);
  if (o.cho) {
    at::Tensor grad_w_n = grad_w.narrow(0, rz, hidden);
    at::mm_out(grad_w_n, drec_n.reshape({-1, hidden}).t(), saved[kQ].reshape({-1, hidden}));
  }
  const auto type = acts.scalar_type();
  return {dxp, dh, grad_w, grad_ln.to(type), grad_bias.to(type), grad_ln_in.to(type),
          grad_bias_in.to(type)};
}

std::vector<at::Tensor> gru_forward(const at::Tensor& xp, const at::Tensor& h0,
                                    const at::Tensor& weight_hh, c10::IntArrayRef batch_sizes,
                                    const std::optional<at::Tensor>& rec_mask,
                                    const std::optional<at::Tensor>& zoneout,
                                    const std::optional<at::Tensor>& ln_hh,
                                    const std::optional<at::Tensor>& bias_hh,
                                    const std::optional<at::Tensor>& ln_ih,
                                    const std::optional<at::Tensor>& bias_ih, bool cho, bool keep) {
  GruOptions o{weight_hh, batch_sizes, rec_mask, zoneout, ln_hh, bias_hh, ln_ih, bias_ih, cho};
  check_forward(xp, h0, o);
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "rnnlab_gru_forward",
                             [&] { out = forward_impl<scalar_t>(xp, h0, o, keep); });
  return out;
}

std::vector<at::Tensor> gru_backward(const std::optional<at::Tensor>& grad_hs,
                                     at::TensorList saved, const at::Tensor& weight_hh,
                                     c10::IntArrayRef batch_sizes,
                                     const std::optional<at::Tensor>& rec_mask,
                                     const std::optional<at::Tensor>& zoneout,
                                     const std::optional<at::Tensor>& ln_hh,
                                     const std::optional<at::Tensor>& bias_hh,
                                     const std::optional<at::Tensor>& ln_ih,
                                     const std::optional<at::Tensor>& bias_ih, bool cho) {
  GruOptions o{weight_hh, batch_sizes, rec_mask, zoneout, ln_hh, bias_hh, ln_ih, bias_ih, cho};
  check_backward(grad_hs, saved, o);
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(saved[kActs].scalar_type(), "rnnlab_gru_backward",
                             [&] { out = backward_impl<scalar_t>(grad_hs, saved, o); });
  return out;
}

}  // namespace
}  // namespace rnnlab

TORCH_LIBRARY_FRAGMENT(rnnlab, m) {
  m.def(
      "gru_forward(Tensor xp, Tensor h0, Tensor weight_hh, int[] batch_sizes, Tensor? rec_mask, "
      "Tensor? zoneout, Tensor? ln_hh, Tensor? bias_hh, Tensor? ln_ih, Tensor? bias_ih, bool cho, "
      "bool keep) -> Tensor[]");
  m.def(
      "gru_backward(Tensor? grad_hs, Tensor[] saved, Tensor weight_hh, int[] batch_sizes, "
      "Tensor? rec_mask, Tensor? zoneout, Tensor? ln_hh, Tensor? bias_hh, Tensor? ln_ih, "
      "Tensor? bias_ih, bool cho) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnlab, CPU, m) {
  m.impl("gru_forward", &rnnlab::gru_forward);
  m.impl("gru_backward", &rnnlab::gru_backward);
}
