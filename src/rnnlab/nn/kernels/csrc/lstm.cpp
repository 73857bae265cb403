// Fused LSTM-family recurrence (CPU): forward and hand-written BPTT backward, one layer and
// direction, for the loop engine. One call runs the whole sequence; per step it does ONE GEMM
// (h_{t-1} W_hh^T, torch's BLAS) and ONE fused pass over the gates. Equations: docs/equations.md
// (lstm.1-6, peep.1-6, cifg.1-5), gate order i, f, g, o as in torch (cifg: i, g, o).
//
//   pre = X_t + R_t + b             X_t = xp_t, or LN_g(xp_t) * w_ih (input LayerNorm, ln_ih)
//                                   R_t = h~ W_hh^T, or LN_g(h~ W_hh^T) * w_hh (LayerNorm, ln_hh)
//                                   b = b_ih + b_hh (those given)
//   i = σ(pre_i + w_ci c_{t-1})      f = σ(pre_f + w_cf c_{t-1})  (cifg: f = 1 - i)
//   g = tanh(pre_g)                  c~ = f c_{t-1} + i g
//   o = σ(pre_o + w_co c~)           h~_t = o tanh(u),  u = c~ or LN(c~) * w_c + b_c
//   zoneout: h_t = z_h h_{t-1} + (1 - z_h) h~_t, c_t = z_c c_{t-1} + (1 - z_c) c~
// where h~ = h_{t-1} * m (variational recurrent dropout) and the peephole terms exist only for
// lstm-peephole and LN_g normalises each gate block of H values (no gain). Without LayerNorm
// the caller may fold the biases into xp instead. With ln_ih, xp is the raw x W_ih^T and the
// backward returns its gradient through the LayerNorm; it keeps xp and the moments of its gate
// blocks and recomputes LN_g(xp_t) from them, which costs less than a (T, B, G*H) buffer. Parameter gradients that are sums over
// steps and rows (gains, biases, peepholes) are summed per step, in double, while it is in cache.
#include <torch/library.h>

#include "common.h"

namespace rnnlab {
namespace {

struct LstmOptions {
  const at::Tensor& weight_hh;
  c10::IntArrayRef batch_sizes;
  const std::optional<at::Tensor>& peephole;   // (3, H): w_ci, w_cf, w_co
  const std::optional<at::Tensor>& rec_mask;   // (B, H)
  const std::optional<at::Tensor>& zoneout;    // (2, T, B, H): keep-masks of h and c
  const std::optional<at::Tensor>& ln_ih;      // (G*H,) LayerNorm gain of X_t
  const std::optional<at::Tensor>& ln_hh;      // (G*H,) LayerNorm gain of R_t
  const std::optional<at::Tensor>& bias;       // (G*H,) b added to pre (forward only)
  bool biased;                                 // whether there is a b (its gradient is wanted)
  const std::optional<at::Tensor>& ln_c;       // (2, H): LayerNorm gain and bias of c
  bool cifg;
};

constexpr int64_t kChunk = 32;  // steps of dR_t kept at a time with ln_hh (see backward_impl)

// Saved tensors, in this order, between forward and backward.
enum Saved {
  kHs, kCs, kActs, kTanhU, kCNew, kRecHat, kRstdHh, kCHat, kRstdC, kHin, kXp, kMeanIh, kRstdIh,
  kNumSaved
};

// The arguments both ops share (see common.h), for T steps, B rows and H units.
void check_options(const char* op, const at::Tensor& like, int64_t steps, int64_t batch,
                   int64_t hidden, const LstmOptions& o) {
  const int64_t gh = (o.cifg ? 3 : 4) * hidden;
  check_tensor(op, "weight_hh", o.weight_hh, like, {gh, hidden});
  check_batch_sizes(op, o.batch_sizes, steps, batch);
  check_optional(op, "peephole", o.peephole, like, {3, hidden});
  check_optional(op, "rec_mask", o.rec_mask, like, {batch, hidden});
  check_optional(op, "zoneout", o.zoneout, like, {2, steps, batch, hidden});
  check_optional(op, "ln_ih", o.ln_ih, like, {gh});
  check_optional(op, "ln_hh", o.ln_hh, like, {gh});
  check_optional(op, "ln_c", o.ln_c, like, {2, hidden});
}

void check_forward(const at::Tensor& xp, const at::Tensor& h0, const at::Tensor& c0,
                   const std::optional<at::Tensor>& bias_ih,
                   const std::optional<at::Tensor>& bias_hh, const LstmOptions& o) {
  const char* op = "lstm_forward";
  check_floating(op, "xp", xp);
  TORCH_CHECK(xp.dim() == 3 && h0.dim() == 2 && h0.size(1) > 0, op,
              ": expected xp (T, B, G*H) and h0 (B, H) with H > 0, got ", xp.sizes(), " and ",
              h0.sizes());
  const int64_t steps = xp.size(0), batch = xp.size(1), hidden = h0.size(1);
  const int64_t gh = (o.cifg ? 3 : 4) * hidden;
  check_tensor(op, "xp", xp, xp, {steps, batch, gh});
  check_tensor(op, "h0", h0, xp, {batch, hidden});
  check_tensor(op, "c0", c0, xp, {batch, hidden});
  check_optional(op, "bias_ih", bias_ih, xp, {gh});
  check_optional(op, "bias_hh", bias_hh, xp, {gh});
  check_options(op, xp, steps, batch, hidden, o);
}

template <typename T>
std::vector<at::Tensor> forward_impl(const at::Tensor& xp, const at::Tensor& h0,
                                     const at::Tensor& c0, const LstmOptions& o, bool keep) {
  const int64_t steps = xp.size(0), batch = xp.size(1), gh = xp.size(2);
  const int64_t hidden = h0.size(1), gates = gh / hidden;
  const bool peep = has(o.peephole), drop = has(o.rec_mask), zone = has(o.zoneout);
  const bool ln = has(o.ln_hh), lnc = has(o.ln_c), ln_in = has(o.ln_ih);
  const bool ragged = !o.batch_sizes.empty() && o.batch_sizes.back() < batch;
  const int64_t kept = keep ? steps : 1;  // inference reuses one step of scratch
  auto empty = at::empty({0}, xp.options());

  std::vector<at::Tensor> saved(kNumSaved, empty);
  at::Tensor hs = buffer(xp, {steps + 1, batch, hidden}, false);
  at::Tensor cs = buffer(xp, {steps + 1, batch, hidden}, false);
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  at::Tensor acts = buffer(xp, {kept, batch, gh}, ragged);
  at::Tensor tanh_u = buffer(xp, {kept, batch, hidden}, ragged);
  at::Tensor cnew = zone ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor rec_hat = ln ? buffer(xp, {kept, batch, gh}, ragged) : empty;
  at::Tensor rstd_hh = ln ? buffer(xp, {kept, batch, gates}, ragged) : empty;
  at::Tensor c_hat = lnc ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor rstd_c = lnc ? buffer(xp, {kept, batch}, ragged) : empty;
  at::Tensor hin = drop ? buffer(xp, {kept, batch, hidden}, ragged) : empty;
  at::Tensor in_hat = ln_in ? at::empty({batch, gh}, xp.options()) : empty;  // one step
  at::Tensor mean_ih = ln_in ? buffer(xp, {kept, batch, gates}, ragged) : empty;
  at::Tensor rstd_ih = ln_in ? buffer(xp, {kept, batch, gates}, ragged) : empty;
  const at::Tensor bias = has(o.bias) ? *o.bias : at::zeros({gh}, xp.options());
  const T* w_p = o.weight_hh.data_ptr<T>();
  T* acts_p = acts.data_ptr<T>();
  T* rec_p = ln ? rec_hat.data_ptr<T>() : nullptr;
  T* hin_p = drop ? hin.data_ptr<T>() : nullptr;

  const T* peep_w = peep ? o.peephole->data_ptr<T>() : nullptr;
  const T* mask = drop ? o.rec_mask->data_ptr<T>() : nullptr;
  const T* zmask = zone ? o.zoneout->data_ptr<T>() : nullptr;
  const T* ln_w = ln ? o.ln_hh->data_ptr<T>() : nullptr;
  const T* in_w = ln_in ? o.ln_ih->data_ptr<T>() : nullptr;
  const T* b = bias.data_ptr<T>();
  const T* lnc_w = lnc ? o.ln_c->data_ptr<T>() : nullptr;
  const T* xp_p = xp.data_ptr<T>();
  T* hs_p = hs.data_ptr<T>();
  T* cs_p = cs.data_ptr<T>();

  for (int64_t t = 0; t < steps; ++t) {
    const int64_t n = o.batch_sizes.empty() ? batch : o.batch_sizes[t];
    const int64_t k = keep ? t : 0;
    T* a_base = acts_p + k * batch * gh;
    const T* h_in = hs_p + t * batch * hidden;
    if (drop) {
      T* hin_t = hin_p + k * batch * hidden;
      for (int64_t j = 0; j < n * hidden; ++j) hin_t[j] = h_in[j] * mask[j];
      h_in = hin_t;
    }
    if (ln) {
      gemm(true, n, gh, hidden, h_in, w_p, T(0), rec_p + k * batch * gh);
    } else if (ln_in) {
      gemm(true, n, gh, hidden, h_in, w_p, T(0), a_base);  // X_t and b added per row below
    } else {
      std::copy(xp_p + t * batch * gh, xp_p + (t * batch + n) * gh, a_base);
      gemm(true, n, gh, hidden, h_in, w_p, T(1), a_base);
    }
    T* tu_base = tanh_u.data_ptr<T>() + k * batch * hidden;
    T* cn_base = zone ? cnew.data_ptr<T>() + k * batch * hidden : cs_p + (t + 1) * batch * hidden;
    T* rh_base = ln ? rec_p + k * batch * gh : nullptr;
    T* rs_base = ln ? rstd_hh.data_ptr<T>() + k * batch * gates : nullptr;
    T* xh_base = ln_in ? in_hat.data_ptr<T>() : nullptr;
    T* mi_base = ln_in ? mean_ih.data_ptr<T>() + k * batch * gates : nullptr;
    T* ri_base = ln_in ? rstd_ih.data_ptr<T>() + k * batch * gates : nullptr;
    T* ch_base = lnc ? c_hat.data_ptr<T>() + k * batch * hidden : nullptr;
    T* rc_base = lnc ? rstd_c.data_ptr<T>() + k * batch : nullptr;
    const T* hp_base = hs_p + t * batch * hidden;
    const T* cp_base = cs_p + t * batch * hidden;
    T* h_base = hs_p + (t + 1) * batch * hidden;
    T* c_base = cs_p + (t + 1) * batch * hidden;
    const T* zh_base = zone ? zmask + t * batch * hidden : nullptr;
    const T* zc_base = zone ? zmask + (steps + t) * batch * hidden : nullptr;
    const T* xp_t = xp_p + t * batch * gh;

    for_rows(n, gh, [&](int64_t r) {
      T* a = a_base + r * gh;
      const T* x = xp_t + r * gh;
      T* xh = ln_in ? xh_base + r * gh : nullptr;
      T* rh = ln ? rh_base + r * gh : nullptr;
      if (ln_in) {
        T* mean = mi_base + r * gates;
        T* rstd = ri_base + r * gates;
        for (int64_t g = 0; g < gates; ++g) rstd[g] = moments(x + g * hidden, hidden, mean[g]);
        normalized(x, mean, rstd, gates, hidden, xh);
      }
      if (ln) {
        for (int64_t g = 0; g < gates; ++g)
          rs_base[r * gates + g] = normalize_inplace(rh + g * hidden, hidden);
      }
      // pre = X_t + R_t + b; without ln_hh the GEMM already put R_t (and without ln_ih xp) in a.
      if (ln && ln_in) {
        for (int64_t j = 0; j < gh; ++j) a[j] = xh[j] * in_w[j] + rh[j] * ln_w[j] + b[j];
      } else if (ln) {
        for (int64_t j = 0; j < gh; ++j) a[j] = x[j] + rh[j] * ln_w[j] + b[j];
      } else if (ln_in) {
        for (int64_t j = 0; j < gh; ++j) a[j] += xh[j] * in_w[j] + b[j];
      } else if (o.biased) {
        for (int64_t j = 0; j < gh; ++j) a[j] += b[j];
      }
      const T* cp = cp_base + r * hidden;
      T* ig = a;                                  // i (and f right after it, unless cifg)
      T* gg = a + (o.cifg ? 1 : 2) * hidden;      // candidate g
      T* og = a + (gates - 1) * hidden;           // o
      if (peep) {
        for (int64_t j = 0; j < hidden; ++j) ig[j] += peep_w[j] * cp[j];
        for (int64_t j = 0; j < hidden; ++j) ig[hidden + j] += peep_w[hidden + j] * cp[j];
      }
      const int64_t sig_width = (o.cifg ? 1 : 2) * hidden;
      for (int64_t j = 0; j < sig_width; ++j) ig[j] = sigmoid(ig[j]);
      for (int64_t j = 0; j < hidden; ++j) gg[j] = std::tanh(gg[j]);
      T* cn = cn_base + r * hidden;
      if (o.cifg) {
        for (int64_t j = 0; j < hidden; ++j) cn[j] = (T(1) - ig[j]) * cp[j] + ig[j] * gg[j];
      } else {
        const T* fg = a + hidden;
        for (int64_t j = 0; j < hidden; ++j) cn[j] = fg[j] * cp[j] + ig[j] * gg[j];
      }
      if (peep) {
        for (int64_t j = 0; j < hidden; ++j) og[j] += peep_w[2 * hidden + j] * cn[j];
      }
      for (int64_t j = 0; j < hidden; ++j) og[j] = sigmoid(og[j]);
      T* tu = tu_base + r * hidden;
      if (lnc) {
        T* ch = ch_base + r * hidden;
        std::copy(cn, cn + hidden, ch);
        rc_base[r] = normalize_inplace(ch, hidden);
        for (int64_t j = 0; j < hidden; ++j) tu[j] = std::tanh(ch[j] * lnc_w[j] + lnc_w[hidden + j]);
      } else {
        for (int64_t j = 0; j < hidden; ++j) tu[j] = std::tanh(cn[j]);
      }
      T* h = h_base + r * hidden;
      if (zone) {
        const T* hp = hp_base + r * hidden;
        const T* zh = zh_base + r * hidden;
        const T* zc = zc_base + r * hidden;
        T* c = c_base + r * hidden;
        for (int64_t j = 0; j < hidden; ++j) {
          h[j] = zh[j] * hp[j] + (T(1) - zh[j]) * og[j] * tu[j];
          c[j] = zc[j] * cp[j] + (T(1) - zc[j]) * cn[j];
        }
      } else {
        for (int64_t j = 0; j < hidden; ++j) h[j] = og[j] * tu[j];
      }
    });
    carry_rows(hp_base, h_base, n, batch, hidden);
    carry_rows(cp_base, c_base, n, batch, hidden);
  }
  saved[kHs] = hs;
  saved[kCs] = cs;
  saved[kActs] = acts;
  saved[kTanhU] = tanh_u;
  saved[kCNew] = cnew;
  saved[kRecHat] = rec_hat;
  saved[kRstdHh] = rstd_hh;
  saved[kCHat] = c_hat;
  saved[kRstdC] = rstd_c;
  saved[kHin] = hin;
  if (ln_in) saved[kXp] = xp;
  saved[kMeanIh] = mean_ih;
  saved[kRstdIh] = rstd_ih;
  return saved;
}

void check_backward(const std::optional<at::Tensor>& grad_hs,
                    const std::optional<at::Tensor>& grad_c_last, at::TensorList saved,
                    const LstmOptions& o) {
  const char* op = "lstm_backward";
  check_saved_count(op, saved, kNumSaved);
  const at::Tensor& acts = saved[kActs];
  check_floating(op, "saved acts", acts);
  TORCH_CHECK(acts.dim() == 3 && o.weight_hh.dim() == 2 && o.weight_hh.size(1) > 0, op,
              ": expected saved acts (T, B, G*H) and weight_hh (G*H, H), got ", acts.sizes(),
              " and ", o.weight_hh.sizes());
  const int64_t steps = acts.size(0), batch = acts.size(1), hidden = o.weight_hh.size(1);
  const int64_t gates = o.cifg ? 3 : 4, gh = gates * hidden;
  check_options(op, acts, steps, batch, hidden, o);
  check_tensor(op, "saved hs", saved[kHs], acts, {steps + 1, batch, hidden});
  check_tensor(op, "saved cs", saved[kCs], acts, {steps + 1, batch, hidden});
  check_tensor(op, "saved acts", acts, acts, {steps, batch, gh});
  check_tensor(op, "saved tanh_u", saved[kTanhU], acts, {steps, batch, hidden});
  if (has(o.zoneout)) check_tensor(op, "saved cnew", saved[kCNew], acts, {steps, batch, hidden});
  if (has(o.ln_hh)) {
    check_tensor(op, "saved rec_hat", saved[kRecHat], acts, {steps, batch, gh});
    check_tensor(op, "saved rstd_hh", saved[kRstdHh], acts, {steps, batch, gates});
  }
  if (has(o.ln_c)) {
    check_tensor(op, "saved c_hat", saved[kCHat], acts, {steps, batch, hidden});
    check_tensor(op, "saved rstd_c", saved[kRstdC], acts, {steps, batch});
  }
  if (has(o.rec_mask)) check_tensor(op, "saved hin", saved[kHin], acts, {steps, batch, hidden});
  if (has(o.ln_ih)) {
    check_tensor(op, "saved xp", saved[kXp], acts, {steps, batch, gh});
    check_tensor(op, "saved mean_ih", saved[kMeanIh], acts, {steps, batch, gates});
    check_tensor(op, "saved rstd_ih", saved[kRstdIh], acts, {steps, batch, gates});
  }
  check_optional(op, "grad_hs", grad_hs, acts, {steps, batch, hidden}, true);
  check_optional(op, "grad_c_last", grad_c_last, acts, {batch, hidden}, true);
}

template <typename T>
std::vector<at::Tensor> backward_impl(const std::optional<at::Tensor>& grad_hs,
                                      const std::optional<at::Tensor>& grad_c_last,
                                      at::TensorList saved, const LstmOptions& o) {
  const at::Tensor& hs = saved[kHs];
  const at::Tensor& cs = saved[kCs];
  const at::Tensor& acts = saved[kActs];
  const int64_t steps = acts.size(0), batch = acts.size(1), gh = acts.size(2);
  const int64_t hidden = hs.size(2), gates = gh / hidden;
  const bool peep = has(o.peephole), drop = has(o.rec_mask), zone = has(o.zoneout);
  const bool ln = has(o.ln_hh), lnc = has(o.ln_c), ln_in = has(o.ln_ih);
  const bool ragged = !o.batch_sizes.empty() && o.batch_sizes.back() < batch;
  const auto opts = acts.options();
  auto empty = at::empty({0}, opts);

  at::Tensor dh = at::zeros({batch, hidden}, opts);
  // Output gradients may be expanded (the gradient of a plain .sum() has stride 0).
  at::Tensor dc = has(grad_c_last) ? grad_c_last->contiguous().clone() : at::zeros_like(dh);
  const at::Tensor grad_hs_dense = has(grad_hs) ? grad_hs->contiguous() : empty;
  // dxp: the gradient of xp (returned). dpre, the gradient of pre, is written into it; with
  // ln_ih, a pass after the time loop turns it into dxp through the LayerNorm, all steps in
  // parallel. drec: of h~ W_hh^T, the rows of grad W_hh: dpre itself without ln_hh, else its
  // own buffer of kChunk steps, folded into grad W_hh chunk by chunk.
  at::Tensor dxp = buffer(acts, {steps, batch, gh}, ragged);
  at::Tensor& dpre = dxp;
  const int64_t chunk = ln ? std::min(steps, kChunk) : steps;
  at::Tensor drec = ln ? buffer(acts, {chunk, batch, gh}, ragged) : dpre;
  const at::Tensor inputs = drop ? saved[kHin] : hs.narrow(0, 0, steps);  // h~ of each step
  at::Tensor grad_w = at::zeros({gh, hidden}, opts);
  at::Tensor du = lnc ? at::empty({batch, hidden}, opts) : empty;  // of u, one step
  at::Tensor dhin = drop ? at::empty({batch, hidden}, opts) : empty;
  // Sums over steps and rows, in double.
  const auto sum_opts = opts.dtype(at::kDouble);
  at::Tensor grad_bias = at::zeros({o.biased ? gh : 0}, sum_opts);
  at::Tensor grad_ln = at::zeros({ln ? gh : 0}, sum_opts);
  at::Tensor grad_ln_ih = at::zeros({ln_in ? gh : 0}, sum_opts);
  at::Tensor grad_peep = at::zeros({peep ? 3 : 0, hidden}, sum_opts);
  at::Tensor grad_lnc = at::zeros({lnc ? 2 : 0, hidden}, sum_opts);

  const T* peep_w = peep ? o.peephole->data_ptr<T>() : nullptr;
  const T* zmask = zone ? o.zoneout->data_ptr<T>() : nullptr;
  const T* ln_w = ln ? o.ln_hh->data_ptr<T>() : nullptr;
  const T* in_w = ln_in ? o.ln_ih->data_ptr<T>() : nullptr;
  const T* lnc_w = lnc ? o.ln_c->data_ptr<T>() : nullptr;
  const T* gh_p = has(grad_hs) ? grad_hs_dense.data_ptr<T>() : nullptr;
  const T* cs_p = cs.data_ptr<T>();
  const T* cn_p = zone ? saved[kCNew].data_ptr<T>() : cs_p + batch * hidden;
  const T* acts_p = acts.data_ptr<T>();
  const T* tu_p = saved[kTanhU].data_ptr<T>();
  const T* rh_p = ln ? saved[kRecHat].data_ptr<T>() : nullptr;
  const T* rs_p = ln ? saved[kRstdHh].data_ptr<T>() : nullptr;
  const T* xp_p = ln_in ? saved[kXp].data_ptr<T>() : nullptr;
  const T* mi_p = ln_in ? saved[kMeanIh].data_ptr<T>() : nullptr;
  const T* ri_p = ln_in ? saved[kRstdIh].data_ptr<T>() : nullptr;
  const T* ch_p = lnc ? saved[kCHat].data_ptr<T>() : nullptr;
  const T* rc_p = lnc ? saved[kRstdC].data_ptr<T>() : nullptr;
  T* dh_p = dh.data_ptr<T>();
  T* dc_p = dc.data_ptr<T>();
  T* dxp_p = dxp.data_ptr<T>();
  T* dpre_p = dpre.data_ptr<T>();
  T* drec_p = drec.data_ptr<T>();
  T* du_p = lnc ? du.data_ptr<T>() : nullptr;
  T* dhin_p = drop ? dhin.data_ptr<T>() : nullptr;
  double* gbias_p = o.biased ? grad_bias.data_ptr<double>() : nullptr;
  double* gln_p = ln ? grad_ln.data_ptr<double>() : nullptr;
  double* glnin_p = ln_in ? grad_ln_ih.data_ptr<double>() : nullptr;
  double* gpeep_p = peep ? grad_peep.data_ptr<double>() : nullptr;
  double* glnc_p = lnc ? grad_lnc.data_ptr<double>() : nullptr;
  const T* mask = drop ? o.rec_mask->data_ptr<T>() : nullptr;
  const T* w_p = o.weight_hh.data_ptr<T>();

  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t n = o.batch_sizes.empty() ? batch : o.batch_sizes[t];
    const int64_t off_h = t * batch * hidden, off_g = t * batch * gh;
    T* dpre_t = dpre_p + off_g;
    if (gh_p) {
      const T* g = gh_p + off_h;
      for (int64_t j = 0; j < batch * hidden; ++j) dh_p[j] += g[j];
    }
    for_rows(n, gh, [&](int64_t r) {
      const int64_t row_h = off_h + r * hidden, row_g = off_g + r * gh;
      const T* a = acts_p + row_g;
      const T* ig = a;
      const T* gg = a + (o.cifg ? 1 : 2) * hidden;
      const T* og = a + (gates - 1) * hidden;
      const T* cp = cs_p + row_h;
      const T* tu = tu_p + row_h;
      T* dhr = dh_p + r * hidden;
      T* dcr = dc_p + r * hidden;
      T* dp = dpre_t + r * gh;
      T* dpi = dp;
      T* dpg = dp + (o.cifg ? 1 : 2) * hidden;
      T* dpo = dp + (gates - 1) * hidden;
      // Through h~ = o tanh(u): du -> dpo, do -> dpg (both used as scratch until overwritten
      // with the pre-activation gradients below). Zoneout lets z_h dh pass straight to t-1.
      const T* zh = zone ? zmask + row_h : nullptr;
      const T* zc = zone ? zmask + steps * batch * hidden + row_h : nullptr;
      for (int64_t j = 0; j < hidden; ++j) {
        const T dhn = zone ? dhr[j] * (T(1) - zh[j]) : dhr[j];
        dpo[j] = dhn * og[j] * (T(1) - tu[j] * tu[j]);  // du, before the o gate's own grad
        dpg[j] = dhn * tu[j];                            // do (dpg is scratch here)
      }
      if (lnc) {
        std::copy(dpo, dpo + hidden, du_p + r * hidden);
        for (int64_t j = 0; j < hidden; ++j) dpo[j] *= lnc_w[j];
        normalize_backward(dpo, ch_p + row_h, rc_p[t * batch + r], hidden, dpo);
      }
      // dc~ = du (through LayerNorm if on) + the incoming dc (through zoneout).
      for (int64_t j = 0; j < hidden; ++j) dpo[j] += zone ? dcr[j] * (T(1) - zc[j]) : dcr[j];
      for (int64_t j = 0; j < hidden; ++j) {
        const T dcj = dpo[j];
        const T do_pre = dpg[j] * og[j] * (T(1) - og[j]);
        const T dcj_total = peep ? dcj + do_pre * peep_w[2 * hidden + j] : dcj;
        const T keep_c = zone ? dcr[j] * zc[j] : T(0);
        dpo[j] = do_pre;
        // c~ = f c_{t-1} + i g
        const T i = ig[j], g = gg[j];
        const T f = o.cifg ? T(1) - i : a[hidden + j];
        const T di = o.cifg ? dcj_total * (g - cp[j]) : dcj_total * g;
        const T di_pre = di * i * (T(1) - i);
        dpi[j] = di_pre;
        dpg[j] = dcj_total * i * (T(1) - g * g);
        T dc_prev = dcj_total * f + keep_c;
        if (!o.cifg) {
          const T df_pre = dcj_total * cp[j] * f * (T(1) - f);
          dp[hidden + j] = df_pre;
          if (peep) dc_prev += df_pre * peep_w[hidden + j];
        }
        if (peep) dc_prev += di_pre * peep_w[j];
        dcr[j] = dc_prev;
        dhr[j] = zone ? dhr[j] * zh[j] : T(0);
      }
      // Through the LayerNorms of R_t and X_t, per gate block.
      if (ln) {
        T* dr = drec_p + (t % chunk) * batch * gh + r * gh;
        for (int64_t j = 0; j < gh; ++j) dr[j] = dp[j] * ln_w[j];
        for (int64_t g = 0; g < gates; ++g)
          normalize_backward(dr + g * hidden, rh_p + row_g + g * hidden,
                             rs_p[(t * batch + r) * gates + g], hidden, dr + g * hidden);
      }
    });
    // Parameter gradients of this step: db = Σ dpre, dw_hh_ln = Σ dpre R^_t,
    // dw_ci = Σ dpre_i c_{t-1}, dw_cf = Σ dpre_f c_{t-1}, dw_co = Σ dpre_o c~_t, and of the
    // cell LayerNorm Σ du c^, Σ du (dw_ih_ln = Σ dpre X^_t: after the loop).
    if (o.biased) accumulate_rows(n, gh, dpre_t, gh, gbias_p);
    if (ln) accumulate_rows(n, gh, dpre_t, gh, rh_p + off_g, gh, gln_p);
    if (peep) {
      accumulate_rows(n, hidden, dpre_t, gh, cs_p + off_h, hidden, gpeep_p);
      accumulate_rows(n, hidden, dpre_t + hidden, gh, cs_p + off_h, hidden, gpeep_p + hidden);
      accumulate_rows(n, hidden, dpre_t + 3 * hidden, gh, cn_p + off_h, hidden,
                      gpeep_p + 2 * hidden);
    }
    if (lnc) {
      accumulate_rows(n, hidden, du_p, hidden, ch_p + off_h, hidden, glnc_p);
      accumulate_rows(n, hidden, du_p, hidden, glnc_p + hidden);
    }
    // dh_{t-1} += (dR_t W_hh) * m
    const T* drec_t = drec_p + (t % chunk) * batch * gh;
    if (drop) {
      gemm(false, n, hidden, gh, drec_t, w_p, T(0), dhin_p);
      for (int64_t j = 0; j < n * hidden; ++j) dh_p[j] += dhin_p[j] * mask[j];
    } else {
      gemm(false, n, hidden, gh, drec_t, w_p, T(1), dh_p);
    }
    // grad W_hh += dR^T h~ over the steps of a full chunk (all steps at once without ln_hh).
    if (t % chunk == 0) {
      const int64_t len = std::min(chunk, steps - t);
      grad_w.addmm_(drec.narrow(0, 0, len).reshape({len * batch, gh}).t(),
                    inputs.narrow(0, t, len).reshape({len * batch, hidden}));
    }
  }
  if (ln_in) {
    // dxp = LN backward of dpre * w_ih, and dw_ih_ln = Σ dpre X^_t, every (step, row) apart:
    // off the sequential path, on all threads.
    std::mutex sum_mutex;
    const int64_t grain = std::max<int64_t>(1, 2048 / gh);
    at::parallel_for(0, steps * batch, grain, [&](int64_t begin, int64_t end) {
      std::vector<T> xh(gh);
      std::vector<double> sum(gh, 0.0);
      for (int64_t row = begin; row < end; ++row) {
        const int64_t t = row / batch, r = row % batch;
        if (r >= (o.batch_sizes.empty() ? batch : o.batch_sizes[t])) continue;  // stays 0
        normalized(xp_p + row * gh, mi_p + row * gates, ri_p + row * gates, gates, hidden,
                   xh.data());
        T* dx = dxp_p + row * gh;
        accumulate_rows(1, gh, dx, gh, xh.data(), gh, sum.data());
        for (int64_t j = 0; j < gh; ++j) dx[j] *= in_w[j];
        for (int64_t g = 0; g < gates; ++g)
          normalize_backward(dx + g * hidden, xh.data() + g * hidden, ri_p[row * gates + g],
                             hidden, dx + g * hidden);
      }
      std::lock_guard<std::mutex> lock(sum_mutex);
      for (int64_t j = 0; j < gh; ++j) glnin_p[j] += sum[j];
    });
  }
  const auto dtype = acts.scalar_type();
  return {dxp, dh, dc, grad_w, grad_peep.to(dtype), grad_ln.to(dtype), grad_bias.to(dtype),
          grad_lnc.to(dtype), grad_ln_ih.to(dtype)};
}

std::vector<at::Tensor> lstm_forward(const at::Tensor& xp, const at::Tensor& h0,
                                     const at::Tensor& c0, const at::Tensor& weight_hh,
                                     c10::IntArrayRef batch_sizes,
                                     const std::optional<at::Tensor>& peephole,
                                     const std::optional<at::Tensor>& rec_mask,
                                     const std::optional<at::Tensor>& zoneout,
                                     const std::optional<at::Tensor>& ln_ih,
                                     const std::optional<at::Tensor>& bias_ih,
                                     const std::optional<at::Tensor>& ln_hh,
                                     const std::optional<at::Tensor>& bias_hh,
                                     const std::optional<at::Tensor>& ln_c, bool cifg, bool keep) {
  const std::optional<at::Tensor> no_bias;
  check_forward(xp, h0, c0, bias_ih, bias_hh,
                {weight_hh, batch_sizes, peephole, rec_mask, zoneout, ln_ih, ln_hh, no_bias, false,
                 ln_c, cifg});
  std::optional<at::Tensor> bias;  // b = b_ih + b_hh, of those given
  if (has(bias_ih)) bias = *bias_ih;
  if (has(bias_hh)) bias = bias ? *bias + *bias_hh : *bias_hh;
  LstmOptions o{weight_hh, batch_sizes, peephole, rec_mask, zoneout, ln_ih,
                ln_hh,     bias,        bias.has_value(), ln_c,  cifg};
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "rnnlab_lstm_forward",
                             [&] { out = forward_impl<scalar_t>(xp, h0, c0, o, keep); });
  return out;
}

// Returns the gradients of xp, h0, c0, W_hh, the peepholes, ln_hh, b (= of b_ih and of b_hh;
// when `bias`), ln_c and ln_ih; those of absent inputs are empty.
std::vector<at::Tensor> lstm_backward(const std::optional<at::Tensor>& grad_hs,
                                      const std::optional<at::Tensor>& grad_c_last,
                                      at::TensorList saved, const at::Tensor& weight_hh,
                                      c10::IntArrayRef batch_sizes,
                                      const std::optional<at::Tensor>& peephole,
                                      const std::optional<at::Tensor>& rec_mask,
                                      const std::optional<at::Tensor>& zoneout,
                                      const std::optional<at::Tensor>& ln_ih,
                                      const std::optional<at::Tensor>& ln_hh, bool bias,
                                      const std::optional<at::Tensor>& ln_c, bool cifg) {
  const std::optional<at::Tensor> no_bias;
  LstmOptions o{weight_hh, batch_sizes, peephole, rec_mask, zoneout, ln_ih,
                ln_hh,     no_bias,     bias,     ln_c,     cifg};
  check_backward(grad_hs, grad_c_last, saved, o);
  std::vector<at::Tensor> out;
  AT_DISPATCH_FLOATING_TYPES(saved[kActs].scalar_type(), "rnnlab_lstm_backward",
                             [&] { out = backward_impl<scalar_t>(grad_hs, grad_c_last, saved, o); });
  return out;
}

}  // namespace
}  // namespace rnnlab

TORCH_LIBRARY_FRAGMENT(rnnlab, m) {
  m.def(
      "lstm_forward(Tensor xp, Tensor h0, Tensor c0, Tensor weight_hh, int[] batch_sizes, "
      "Tensor? peephole, Tensor? rec_mask, Tensor? zoneout, Tensor? ln_ih, Tensor? bias_ih, "
      "Tensor? ln_hh, Tensor? bias_hh, Tensor? ln_c, bool cifg, bool keep) -> Tensor[]");
  m.def(
      "lstm_backward(Tensor? grad_hs, Tensor? grad_c_last, Tensor[] saved, Tensor weight_hh, "
      "int[] batch_sizes, Tensor? peephole, Tensor? rec_mask, Tensor? zoneout, Tensor? ln_ih, "
      "Tensor? ln_hh, bool bias, Tensor? ln_c, bool cifg) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnlab, CPU, m) {
  m.impl("lstm_forward", &rnnlab::lstm_forward);
  m.impl("lstm_backward", &rnnlab::lstm_backward);
}
