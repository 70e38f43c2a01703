"""Stateless forward/backward pairs, the twin of ``torch.nn.functional``.

Each ``*_forward`` returns ``(out, cache)`` and the ``*_backward`` below it
takes ``(dout, cache)`` and returns the gradients. Outputs keep the input's
dtype. One file per family, split as ``torch.nn.modules`` is; import from
here: ``from scratch import functional as F; F.conv2d_forward``.

Each file opens with the plain algorithm, each cache a ``NamedTuple`` with
named fields; the few faster ways to compute the same numbers live in
:mod:`scratch.backends.fast`, entered through lines marked ``FAST PATH`` and
switched off with ``scratch.backends.fast.enabled = False``.
"""
from scratch.functional.activation import (
                                           elu_backward,
                                           elu_forward,
                                           gelu_backward,
                                           gelu_forward,
                                           leaky_relu_backward,
                                           leaky_relu_forward,
                                           log_softmax_backward,
                                           log_softmax_forward,
                                           prelu_backward,
                                           prelu_forward,
                                           relu_backward,
                                           relu_forward,
                                           sigmoid_backward,
                                           sigmoid_forward,
                                           silu_backward,
                                           silu_forward,
                                           softmax_backward,
                                           softmax_dim,
                                           softmax_forward,
                                           tanh_backward,
                                           tanh_forward,
)
from scratch.functional.batchnorm import batch_norm_backward, batch_norm_forward
from scratch.functional.conv import conv2d_backward, conv2d_forward
from scratch.functional.dropout import (
                                           draw_keep_mask,
                                           dropout_backward,
                                           dropout_forward,
                                           dropout_noise_shape,
)
from scratch.functional.linear import (
                                           flatten_backward,
                                           flatten_forward,
                                           linear_backward,
                                           linear_forward,
)
from scratch.functional.loss import (
                                           cross_entropy_backward,
                                           cross_entropy_forward,
                                           l2_penalty,
                                           l2_penalty_backward,
                                           legacy_reduction,
                                           nll_loss_backward,
                                           nll_loss_forward,
)
from scratch.functional.padding import pad_backward, pad_forward
from scratch.functional.pooling import (
                                           adaptive_avg_pool2d_backward,
                                           adaptive_avg_pool2d_forward,
                                           adaptive_max_pool2d_backward,
                                           adaptive_max_pool2d_forward,
                                           avg_pool2d_backward,
                                           avg_pool2d_forward,
                                           max_pool2d_backward,
                                           max_pool2d_forward,
                                           max_pool2d_indices,
)
from scratch.functional.rnn import (
                                           lstm_backward,
                                           lstm_forward,
                                           lstm_step_backward,
                                           lstm_step_forward,
                                           rnn_backward,
                                           rnn_forward,
                                           rnn_step_backward,
                                           rnn_step_forward,
)

__all__ = ["avg_pool2d_backward", "avg_pool2d_forward", "batch_norm_backward",
           "batch_norm_forward", "conv2d_backward", "conv2d_forward", "cross_entropy_backward",
           "cross_entropy_forward", "flatten_backward", "flatten_forward", "l2_penalty",
           "l2_penalty_backward", "leaky_relu_backward", "leaky_relu_forward",
           "linear_backward", "linear_forward", "max_pool2d_backward", "max_pool2d_forward",
           "prelu_backward", "prelu_forward", "relu_backward", "relu_forward",
           "sigmoid_backward", "sigmoid_forward", "tanh_backward", "tanh_forward"]
__all__ += ["lstm_backward", "lstm_forward", "lstm_step_backward", "lstm_step_forward",
            "rnn_backward", "rnn_forward", "rnn_step_backward", "rnn_step_forward"]
__all__ += ["draw_keep_mask", "dropout_backward", "dropout_forward", "dropout_noise_shape",
            "elu_backward", "elu_forward", "gelu_backward", "gelu_forward", "legacy_reduction",
            "log_softmax_backward", "log_softmax_forward", "nll_loss_backward",
            "nll_loss_forward", "silu_backward", "silu_forward", "softmax_backward",
            "softmax_dim", "softmax_forward"]
__all__ += ["adaptive_avg_pool2d_backward", "adaptive_avg_pool2d_forward",
            "adaptive_max_pool2d_backward", "adaptive_max_pool2d_forward", "max_pool2d_indices",
            "pad_backward", "pad_forward"]
