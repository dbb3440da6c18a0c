"""LSTM and GRU recurrences with a hand-written backward pass: the increment task's Keras-2
units (hard-sigmoid gates) and ReNet's GRU (the paper's equation, sigmoid gates).

At the increment task's sizes (batch 16, 16 units, 14-64 steps) the per-operation overhead of
PyTorch, not the arithmetic, bounds a recurrence written as a Python loop: autograd through a
plain loop records a dozen nodes per step; at ReNet's sizes (hundreds of units, thousands of
sequences) the per-step weight-gradient products and temporaries of autograd cost most. Here
the caller computes the input products of all steps at once (``gi``, time-major); the forward
loop runs about eight in-place operations per step and keeps what the backward needs; the
backward computes every factor that does not depend on the recurrence for all steps at once,
runs the chain rule of one step by hand (about six operations), and leaves the recurrent
weights' gradients to one matrix product over all steps. The results equal autograd through
the plain loop of the same equations (tested, and with ``gradcheck``).

Gate functions: ``hard`` = Keras 2's hard sigmoid clip(0.2 x + 0.5, 0, 1) (derivative 0.2
inside the clip, 0 outside), else the logistic sigmoid; both derivatives are read off the
activated value.
"""

from __future__ import annotations

import torch


def gate_(x: torch.Tensor, hard: bool) -> torch.Tensor:
    """The gate function, in place."""
    return x.mul_(0.2).add_(0.5).clamp_(0.0, 1.0) if hard else x.sigmoid_()


def gate_derivative(value: torch.Tensor, hard: bool) -> torch.Tensor:
    """d gate / d input, from the activated value."""
    if hard:
        return ((value > 0) & (value < 1)).to(value.dtype) * 0.2
    return value * (1 - value)


def _states(ctx: torch.autograd.function.FunctionCtx, hard: bool, h: torch.Tensor,
            *saved: torch.Tensor) -> torch.Tensor:
    """End of a forward pass: keep what the backward needs; return h_1..h_T."""
    ctx.hard = hard
    ctx.save_for_backward(*saved)
    return h[1:].clone()


class _LSTM(torch.autograd.Function):
    """(gi (steps, batch, 4h), weight_hh (4h, h), hard) -> states (steps, batch, h), with the
    gate rows in the order i, f, o, g (the three gates contiguous): c_t = f c + i g,
    h_t = o tanh(c_t)."""

    @staticmethod
    def forward(ctx, gi: torch.Tensor, weight_hh: torch.Tensor, hard: bool) -> torch.Tensor:
        steps, batch, rows = gi.shape
        hidden = rows // 4
        h = gi.new_zeros(steps + 1, batch, hidden)
        c = gi.new_zeros(steps + 1, batch, hidden)
        acts = torch.empty_like(gi)                  # i, f, o, g after their functions
        tanh_c = gi.new_empty(steps, batch, hidden)
        hs, cs, gis = h.unbind(0), c.unbind(0), gi.unbind(0)
        w_t = weight_hh.t()
        for t, act in enumerate(acts.unbind(0)):
            torch.addmm(gis[t], hs[t], w_t, out=act)
            gate_(act[:, :3 * hidden], hard)
            act[:, 3 * hidden:].tanh_()
            torch.mul(act[:, hidden:2 * hidden], cs[t], out=cs[t + 1])
            cs[t + 1].addcmul_(act[:, :hidden], act[:, 3 * hidden:])
            torch.tanh(cs[t + 1], out=tanh_c[t])
            torch.mul(act[:, 2 * hidden:3 * hidden], tanh_c[t], out=hs[t + 1])
        return _states(ctx, hard, h, weight_hh, h, c, acts, tanh_c)

    @staticmethod
    def backward(ctx, grad_states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        weight_hh, h, c, acts, tanh_c = ctx.saved_tensors
        steps, batch, hidden = tanh_c.shape
        # Factors that do not depend on the recurrence, for every step at once: the gradient
        # at the pre-activations is [d_c, d_c, d_h, d_c] times `partner` (the other factor of
        # each product: g, c_{t-1}, tanh c_t, i) times the slope of the gate's function.
        i, f = acts[..., :hidden], acts[..., hidden:2 * hidden]
        o, g = acts[..., 2 * hidden:3 * hidden], acts[..., 3 * hidden:]
        partner = torch.cat((g, c[:-1], tanh_c, i), dim=-1)
        partner *= torch.cat((gate_derivative(acts[..., :3 * hidden], ctx.hard),
                              1 - g.square()), dim=-1)
        o_dtanh = o * (1 - tanh_c.square())
        d_a = torch.empty_like(acts)
        d_h = grad_states.new_zeros(batch, hidden)
        d_c = grad_states.new_zeros(batch, hidden)
        grads = grad_states.unbind(0)
        for t in range(steps - 1, -1, -1):
            d_h += grads[t]
            d_c.addcmul_(d_h, o_dtanh[t])
            torch.cat((d_c, d_c, d_h, d_c), dim=1, out=d_a[t]).mul_(partner[t])
            d_c.mul_(f[t])
            d_h = d_a[t] @ weight_hh
        flat = d_a.view(steps * batch, -1)
        return d_a, flat.t() @ h[:-1].reshape(steps * batch, hidden), None


class _GRU(torch.autograd.Function):
    """(gi (steps, batch, 3h), weight_hh (3h, h), bias_hn (h) or None, hard, low) -> states.
    Gate rows r, z, n; n = tanh(gi_n + U_n (r h)) with the reset before the product (bias_hn
    None), or tanh(gi_n + r (U_n h + bias_hn)) after; h_t = (1 − z) n + z h. ``low`` (e.g.
    bfloat16) is the dtype of the matrix products' operands (mixed precision): states, gates
    and every elementwise step stay in gi's dtype; None keeps every product in it too."""

    @staticmethod
    def forward(ctx, gi: torch.Tensor, weight_hh: torch.Tensor, bias_hn: torch.Tensor | None,
                hard: bool, low: torch.dtype | None) -> torch.Tensor:
        steps, batch, rows = gi.shape
        hidden = rows // 3
        after = bias_hn is not None
        h = gi.new_zeros(steps + 1, batch, hidden)
        rz = gi.new_empty(steps, batch, 2 * hidden)
        n = gi.new_empty(steps, batch, hidden)
        # What multiplies U_n: r h (before); after: U_n h + bias_hn, which r multiplies.
        m = gi.new_empty(steps, batch, hidden)
        hs = h.unbind(0)
        w_rz, w_n = _operand(weight_hh[:2 * hidden].t(), low), _operand(
            weight_hh[2 * hidden:].t(), low)
        for t in range(steps):
            g = gi[t]
            gate_(_addmm(g[:, :2 * hidden], hs[t], w_rz, rz[t]), hard)
            r, z = rz[t, :, :hidden], rz[t, :, hidden:]
            if after:
                _addmm(bias_hn, hs[t], w_n, m[t])
                torch.addcmul(g[:, 2 * hidden:], r, m[t], out=n[t]).tanh_()
            else:
                torch.mul(r, hs[t], out=m[t])
                _addmm(g[:, 2 * hidden:], m[t], w_n, n[t]).tanh_()
            torch.lerp(n[t], hs[t], z, out=hs[t + 1])
        ctx.after, ctx.low = after, low
        return _states(ctx, hard, h, weight_hh, h, rz, n, m)

    @staticmethod
    def backward(ctx, grad_states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        weight_hh, h, rz, n, m = ctx.saved_tensors
        steps, batch, hidden = n.shape
        low = ctx.low
        w_rz, w_n = _operand(weight_hh[:2 * hidden], low), _operand(weight_hh[2 * hidden:], low)
        r, z = rz[..., :hidden], rz[..., hidden:]
        slope = gate_derivative(rz, ctx.hard)
        # Factors that do not depend on the recurrence, for every step at once.
        to_an = (1 - z) * (1 - n.square())               # d a_n / d h_t
        to_az = (h[:-1] - n) * slope[..., hidden:]       # d a_z / d h_t
        # d a_r per unit of the gradient that reaches r: m (after) or h_{t-1} (before).
        to_ar = (m if ctx.after else h[:-1]) * slope[..., :hidden]
        d_gi = grad_states.new_empty(steps, batch, 3 * hidden)
        d_m = grad_states.new_empty(steps, batch, hidden)
        d_h = grad_states.new_zeros(batch, hidden)
        grads = grad_states.unbind(0)
        for t in range(steps - 1, -1, -1):
            d_h += grads[t]
            d_an, d_ar, d_az = (d_gi[t, :, 2 * hidden:], d_gi[t, :, :hidden],
                                d_gi[t, :, hidden:2 * hidden])
            torch.mul(d_h, to_an[t], out=d_an)
            torch.mul(d_h, to_az[t], out=d_az)
            if ctx.after:
                torch.mul(d_an, r[t], out=d_m[t])        # gradient at U_n h + bias_hn
                torch.mul(d_an, to_ar[t], out=d_ar)
                d_prev = _addmm(d_h * z[t], d_m[t], w_n)
            else:
                _mm(d_an, w_n, d_m[t])                   # gradient at r h
                torch.mul(d_m[t], to_ar[t], out=d_ar)
                d_prev = torch.addcmul(d_h * z[t], d_m[t], r[t])
            d_h = _addmm(d_prev, d_gi[t, :, :2 * hidden], w_rz)
        flat_h = h[:-1].reshape(steps * batch, hidden)
        d_rz = d_gi[..., :2 * hidden].reshape(steps * batch, 2 * hidden)
        if ctx.after:
            d_wn = _weight_grad(d_m.view(steps * batch, hidden), flat_h, low)
            d_bias = d_m.sum(dim=(0, 1))
        else:
            d_wn = _weight_grad(d_gi[..., 2 * hidden:].reshape(steps * batch, hidden),
                                m.view(steps * batch, hidden), low)
            d_bias = None
        d_w = torch.cat((_weight_grad(d_rz, flat_h, low), d_wn)).to(weight_hh.dtype)
        return d_gi, d_w, d_bias, None, None


def _operand(weight: torch.Tensor, low: torch.dtype | None) -> torch.Tensor:
    """A weight as the products' operand: cast once per call to ``low`` (mixed precision)."""
    return weight if low is None else weight.to(low)


def _addmm(addend: torch.Tensor, a: torch.Tensor, w: torch.Tensor,
           out: torch.Tensor | None = None) -> torch.Tensor:
    """addend + a @ w, into ``out`` if given. Where ``w`` is of a lower dtype than ``a``
    (mixed precision), ``a`` is cast to it and the product is added in ``a``'s dtype."""
    if w.dtype == a.dtype:
        return torch.addmm(addend, a, w, out=out) if out is not None else torch.addmm(
            addend, a, w)
    product = torch.mm(a.to(w.dtype), w)
    return torch.add(addend, product, out=out) if out is not None else addend + product


def _mm(a: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """a @ w into ``out``; ``a`` cast to ``w``'s dtype where that is lower."""
    if w.dtype == a.dtype:
        return torch.mm(a, w, out=out)
    return out.copy_(torch.mm(a.to(w.dtype), w))


def _weight_grad(d_rows: torch.Tensor, inputs: torch.Tensor,
                 low: torch.dtype | None) -> torch.Tensor:
    """The recurrent weights' gradient over all steps, d_rows^T @ inputs, its operands in
    ``low`` where given (autocast's convention for a weight's gradient product)."""
    if low is None:
        return d_rows.t() @ inputs
    return d_rows.to(low).t() @ inputs.to(low)


def lstm_recurrence(gi: torch.Tensor, weight_hh: torch.Tensor, hard: bool) -> torch.Tensor:
    """States (steps, batch, h) of the LSTM from the input products ``gi`` (steps, batch, 4h),
    rows in the order i, f, o, g."""
    return _LSTM.apply(gi, weight_hh, hard)


def gru_recurrence(gi: torch.Tensor, weight_hh: torch.Tensor, bias_hn: torch.Tensor | None,
                   hard: bool, low: torch.dtype | None = None) -> torch.Tensor:
    """States of the GRU: reset before the product when ``bias_hn`` is None, else after;
    ``low``: the products' operand dtype under mixed precision (states stay in gi's)."""
    return _GRU.apply(gi, weight_hh, bias_hn, hard, low)
