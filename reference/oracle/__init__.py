"""Torch as a gradient oracle for hand-written NumPy code: ``from reference import oracle``.

Checks against a torch counterpart you name (autograd, float64, a random upstream gradient):

- :func:`check_module`: an object with ``forward(x)`` and ``backward(dout) -> dx``
  that stores its parameter gradients (:mod:`.layers`);
- :func:`check_pair`: CS231n-style ``forward(x, *params, ...) -> (out, cache)``
  and ``backward(dout, cache) -> (dx, *dparams)`` (:mod:`.layers`);
- :func:`check_gradients`: a function returning gradients of a scalar loss,
  against autograd of a torch expression of the loss (:mod:`.gradients`);
- :func:`check_scalar_graph`: a micrograd-style scalar ``Value`` engine, on
  leaf values drawn by hypothesis (:mod:`.scalar`);
- :func:`check_rnn` / :func:`check_rnn_step`: a recurrence's forward and
  backward through time, with a per-time-step table (:mod:`.recurrence`).

Without a torch counterpart, :func:`check_module_numerically`,
:func:`check_pair_numerically` and :func:`check_gradients_numerically` use
central finite differences (:mod:`.fd`, :mod:`.gradients`). :func:`search`
runs any check under hypothesis and raises :class:`OracleFailure` with the
smallest failing example (:mod:`.search`; strategies in :mod:`.strategies`).

Each check returns a :class:`Report` (:mod:`.report`): one row per tensor,
the coverage of ties and kinks, diagnoses where the evidence names the bug;
``report.assert_ok()`` raises AssertionError carrying the table. A call that
cannot be checked raises :class:`OracleError`; code that answers differently
for the same input raises :class:`NondeterministicError` (both in
:mod:`.report`).
"""
from reference.oracle.against import FiniteDifferences, finite_differences
from reference.oracle.fd import check_module_numerically, check_pair_numerically
from reference.oracle.gradients import check_gradients, check_gradients_numerically
from reference.oracle.inplace import InPlace
from reference.oracle.layers import check_module, check_pair
from reference.oracle.optim import check_optimizer
from reference.oracle.params import Attributes, Dicts, NamedParameters, Param
from reference.oracle.recurrence import check_rnn, check_rnn_step
from reference.oracle.report import NondeterministicError, OracleError, Report, Row
from reference.oracle.scalar import check_scalar_graph
from reference.oracle.search import OracleFailure, search

__all__ = [
    "Attributes", "Dicts", "NamedParameters", "NondeterministicError", "OracleError",
    "OracleFailure", "Param", "Report", "Row", "check_gradients", "check_gradients_numerically",
    "check_module", "check_module_numerically", "check_pair", "check_pair_numerically",
    "check_rnn", "check_rnn_step", "check_scalar_graph", "search",
    # version 3
    "FiniteDifferences", "InPlace", "check_optimizer", "finite_differences",
]
