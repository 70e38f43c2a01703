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
from scratch.functional.conv import (
                                           conv1d_backward,
                                           conv1d_forward,
                                           conv2d_backward,
                                           conv2d_forward,
                                           conv_transpose1d_backward,
                                           conv_transpose1d_forward,
                                           conv_transpose2d_backward,
                                           conv_transpose2d_forward,
                                           transposed_out_size,
)
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
from scratch.functional.margin_loss import (
                                           cosine_embedding_loss_backward,
                                           cosine_embedding_loss_forward,
                                           multi_margin_loss_backward,
                                           multi_margin_loss_forward,
                                           soft_margin_loss_backward,
                                           soft_margin_loss_forward,
)
from scratch.functional.normalization import (
                                           group_norm_backward,
                                           group_norm_forward,
                                           instance_norm_backward,
                                           instance_norm_forward,
                                           layer_norm_backward,
                                           layer_norm_forward,
                                           local_response_norm_backward,
                                           local_response_norm_forward,
                                           rms_norm_backward,
                                           rms_norm_forward,
)
from scratch.functional.padding import pad_backward, pad_forward, pad_nd_backward, pad_nd_forward
from scratch.functional.piecewise_activation import (
                                           hardshrink_backward,
                                           hardshrink_forward,
                                           hardsigmoid_backward,
                                           hardsigmoid_forward,
                                           hardswish_backward,
                                           hardswish_forward,
                                           hardtanh_backward,
                                           hardtanh_forward,
                                           relu6_backward,
                                           relu6_forward,
                                           softshrink_backward,
                                           softshrink_forward,
                                           threshold_backward,
                                           threshold_forward,
)
from scratch.functional.pooling import (
                                           adaptive_avg_pool1d_backward,
                                           adaptive_avg_pool1d_forward,
                                           adaptive_avg_pool2d_backward,
                                           adaptive_avg_pool2d_forward,
                                           adaptive_max_pool1d_backward,
                                           adaptive_max_pool1d_forward,
                                           adaptive_max_pool2d_backward,
                                           adaptive_max_pool2d_forward,
                                           avg_pool1d_backward,
                                           avg_pool1d_forward,
                                           avg_pool2d_backward,
                                           avg_pool2d_forward,
                                           max_pool1d_backward,
                                           max_pool1d_forward,
                                           max_pool2d_backward,
                                           max_pool2d_forward,
                                           max_pool2d_indices,
                                           max_unpool2d_backward,
                                           max_unpool2d_forward,
)
from scratch.functional.probability_loss import (
                                           binary_cross_entropy_backward,
                                           binary_cross_entropy_forward,
                                           binary_cross_entropy_with_logits_backward,
                                           binary_cross_entropy_with_logits_forward,
                                           kl_div_backward,
                                           kl_div_forward,
)
from scratch.functional.rearrange import (
                                           pixel_shuffle_backward,
                                           pixel_shuffle_forward,
                                           pixel_unshuffle_backward,
                                           pixel_unshuffle_forward,
                                           unflatten_backward,
                                           unflatten_forward,
)
from scratch.functional.regression_loss import (
                                           gaussian_nll_loss_backward,
                                           gaussian_nll_loss_forward,
                                           huber_loss_backward,
                                           huber_loss_forward,
                                           l1_loss_backward,
                                           l1_loss_forward,
                                           mse_loss_backward,
                                           mse_loss_forward,
                                           smooth_l1_loss_backward,
                                           smooth_l1_loss_forward,
)
from scratch.functional.resample import interpolate_backward, interpolate_forward
from scratch.functional.rnn import (
                                           gru_backward,
                                           gru_forward,
                                           gru_step_backward,
                                           gru_step_forward,
                                           lstm_backward,
                                           lstm_forward,
                                           lstm_step_backward,
                                           lstm_step_forward,
                                           rnn_backward,
                                           rnn_forward,
                                           rnn_step_backward,
                                           rnn_step_forward,
)
from scratch.functional.smooth_activation import (
                                           celu_backward,
                                           celu_forward,
                                           glu_backward,
                                           glu_forward,
                                           log_sigmoid_backward,
                                           log_sigmoid_forward,
                                           mish_backward,
                                           mish_forward,
                                           selu_backward,
                                           selu_forward,
                                           softmax2d_backward,
                                           softmax2d_forward,
                                           softmin_backward,
                                           softmin_forward,
                                           softplus_backward,
                                           softplus_forward,
                                           softsign_backward,
                                           softsign_forward,
                                           tanhshrink_backward,
                                           tanhshrink_forward,
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
__all__ += ["binary_cross_entropy_backward", "binary_cross_entropy_forward",
            "binary_cross_entropy_with_logits_backward",
            "binary_cross_entropy_with_logits_forward", "cosine_embedding_loss_backward",
            "cosine_embedding_loss_forward", "gaussian_nll_loss_backward",
            "gaussian_nll_loss_forward", "huber_loss_backward", "huber_loss_forward",
            "kl_div_backward", "kl_div_forward", "l1_loss_backward", "l1_loss_forward",
            "mse_loss_backward", "mse_loss_forward", "multi_margin_loss_backward",
            "multi_margin_loss_forward", "smooth_l1_loss_backward", "smooth_l1_loss_forward",
            "soft_margin_loss_backward", "soft_margin_loss_forward"]
__all__ += ["celu_backward", "celu_forward", "glu_backward", "glu_forward", "hardshrink_backward",
            "hardshrink_forward", "hardsigmoid_backward", "hardsigmoid_forward",
            "hardswish_backward", "hardswish_forward", "hardtanh_backward", "hardtanh_forward",
            "log_sigmoid_backward", "log_sigmoid_forward", "mish_backward", "mish_forward",
            "relu6_backward", "relu6_forward", "selu_backward", "selu_forward",
            "softmax2d_backward", "softmax2d_forward", "softmin_backward", "softmin_forward",
            "softplus_backward", "softplus_forward", "softshrink_backward", "softshrink_forward",
            "softsign_backward", "softsign_forward", "tanhshrink_backward", "tanhshrink_forward",
            "threshold_backward", "threshold_forward"]
__all__ += ["group_norm_backward", "group_norm_forward", "instance_norm_backward",
            "instance_norm_forward", "local_response_norm_backward", "local_response_norm_forward",
            "rms_norm_backward", "rms_norm_forward"]
# sequences and attention
from scratch.functional.attention import (  # noqa: E402
                                           scaled_dot_product_attention_backward,
                                           scaled_dot_product_attention_forward,
)
from scratch.functional.multihead_attention import (  # noqa: E402
                                           multi_head_attention_backward,
                                           multi_head_attention_forward,
)
from scratch.functional.sparse import (  # noqa: E402
                                           embedding_backward,
                                           embedding_forward,
                                           embedding_renorm_,
)

__all__ += ["embedding_backward", "embedding_forward", "embedding_renorm_",
            "gru_backward", "gru_forward", "gru_step_backward", "gru_step_forward",
            "layer_norm_backward", "layer_norm_forward", "multi_head_attention_backward",
            "multi_head_attention_forward", "scaled_dot_product_attention_backward",
            "scaled_dot_product_attention_forward"]
__all__ += ["pad_nd_backward", "pad_nd_forward", "pixel_shuffle_backward", "pixel_shuffle_forward",
            "pixel_unshuffle_backward", "pixel_unshuffle_forward", "unflatten_backward",
            "unflatten_forward"]
__all__ += ["conv1d_backward", "conv1d_forward", "conv_transpose1d_backward",
            "conv_transpose1d_forward", "conv_transpose2d_backward", "conv_transpose2d_forward",
            "transposed_out_size"]
__all__ += ["interpolate_backward", "interpolate_forward"]
__all__ += ["adaptive_avg_pool1d_backward", "adaptive_avg_pool1d_forward",
            "adaptive_max_pool1d_backward", "adaptive_max_pool1d_forward", "avg_pool1d_backward",
            "avg_pool1d_forward", "max_pool1d_backward", "max_pool1d_forward",
            "max_unpool2d_backward", "max_unpool2d_forward"]
# normbag: embedding bags
from scratch.functional.sparse import (  # noqa: E402
                                           embedding_bag_backward,
                                           embedding_bag_forward,
                                           embedding_bag_offsets,
)

__all__ += ["embedding_bag_backward", "embedding_bag_forward", "embedding_bag_offsets"]
