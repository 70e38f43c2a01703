"""Torch as a gradient oracle for hand-written NumPy code: ``from reference import oracle``.

Every check takes your code, then the input, then the parameters, then
keywords; ``against=`` names what to compare with (a ``torch.nn.Module``, a
torch function, or :func:`finite_differences`); the upstream gradient is
``dout`` (drawn standard normal from ``seed`` when not given):

- :func:`check_module`: an object with ``forward(x)`` and ``backward(dout) -> dx``
  that stores its parameter gradients (:mod:`.layers`);
- :func:`check_pair`: CS231n-style ``forward(x, *params, ...) -> (out, cache)``
  and ``backward(dout, cache) -> (dx, *dparams)`` (:mod:`.layers`);
- :func:`check_gradients`: a function returning gradients of a scalar loss
  (:mod:`.gradients`);
- :func:`check_rnn_step` / :func:`check_rnn`: a recurrent step with any
  number of states, or a whole sequence with a per-time-step table, against
  torch's cells and recurrent modules or your torch function (:mod:`.recurrence`);
- :func:`check_optimizer`: an update rule against a ``torch.optim``
  optimizer over several steps (:mod:`.optim`);
- :func:`check_scalar_graph`: a micrograd-style scalar ``Value`` engine
  (:mod:`.scalar`).

Integer and boolean inputs pass through untouched, without a gradient.
Each check returns a :class:`Report` (:mod:`.report`): one row per tensor,
the coverage of ties and kinks, diagnoses where the evidence establishes
the bug, and in-place findings (:class:`InPlace`, :mod:`.inplace`) for code
that writes into what it was given or returns gradients sharing memory.
``report.assert_ok()`` raises AssertionError carrying the table. A call that
cannot be checked raises :class:`OracleError`; code that answers differently
for the same input raises :class:`NondeterministicError`. :func:`search`
runs any check under hypothesis and raises :class:`OracleFailure` with the
smallest failing example (:mod:`.search`; strategies in :mod:`.strategies`).
For your own repository: the pytest plugin (:mod:`.pytest_plugin`) and
``python -m reference.oracle check`` (:mod:`.cli`). The call forms of the
previous version (and ``check_*_numerically``) still run for one release,
with a ``DeprecationWarning`` naming the new form (:mod:`.against`).
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
