"""``GRU``, as ``torch.nn.GRU`` (torch keeps it in rnn.py, beside RNN and LSTM).

``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
dropout=0.0, bidirectional=False, device=None, dtype=None, *, generator=None,
seed=None)``: the conventions of :class:`scratch.nn.RNN` (input forms, ``(output,
h_n)``, ``backward(dout, dh_n=None) -> (dx, dh0)``, dropout between layers, parameter
names ``weight_ih_l{k}[_reverse]``...), with three gate blocks r, z, n per weight
(see :mod:`scratch.functional.gru`). ``bias_ih`` and ``bias_hh`` get different
gradients: ``b_hn`` is multiplied by the reset gate.
"""
from __future__ import annotations

from scratch import functional as F
from scratch.nn.rnn import RNN, RNNBase


class GRU(RNNBase):
    """Gated recurrent unit over a sequence, as ``torch.nn.GRU`` (gates r, z, n)."""

    _gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, generator=None,
                 seed=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, generator=generator, seed=seed)

    def _sequence_forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        return F.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)

    def _sequence_backward(self, dout, dh_n, cache):
        return F.gru_backward(dout, dh_n, cache)

    def _set_grads(self, layer, direction, dw_ih, dw_hh, db):
        """As RNN's, but ``db`` is the pair ``(db_ih, db_hh)`` (or None)."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        self._params["weight_ih" + suffix].grad = dw_ih
        self._params["weight_hh" + suffix].grad = dw_hh
        if db is not None:
            self._params["bias_ih" + suffix].grad, self._params["bias_hh" + suffix].grad = db

    forward = RNN.forward        # one state, h: the same call as RNN's
    backward = RNN.backward
