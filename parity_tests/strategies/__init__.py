"""Hypothesis strategies for the parity suite, all valid by construction.

Geometry (kernel, stride, padding, dilation) is drawn first, then an input
size that fits it, so nothing is rejected. Sizes stay small so failures shrink
to a few elements. Values are bounded, exactly representable in float32 (so
the float32 and float64 runs see the same numbers) and often repeated, so
pooling windows hold ties and ReLU inputs hold exact zeros. Upstream
gradients come from a drawn seed: random normal, never all ones.

One module a concern, every name re-exported here (``from parity_tests import strategies
as S``; ``S.conv_cases()``):

- ``values``: the values, seeds and shapes the others draw from; ``fewer_examples``,
  ``more_examples``;
- ``cases``: functional-pair cases (window geometry, conv, pooling, linear,
  classification, recurrent, transposed conv);
- ``losses``: loss and dropout cases;
- ``options``: layer options (padding modes, Conv2d's every form, adaptive pooling);
- ``corners``: torch's sliding-window special cases, aimed at on purpose;
- ``specs``: ``scratch.arch`` layer specs and their registries;
- ``networks``: whole architectures, residual ones included.
"""
from parity_tests.strategies.cases import (  # noqa: F401
    ConvCase,
    PoolCase,
    RecurrentCase,
    classification_cases,
    conv_cases,
    linear_cases,
    pool_cases,
    recurrent_cases,
    transposed_axis,
    transposed_cases,
    window_axis,
)
from parity_tests.strategies.corners import (  # noqa: F401
    WINDOW_CORNERS,
    _all_padding_window,
    axis_corners,
    corner_pool_cases,
    window_corner,
)
from parity_tests.strategies.losses import (  # noqa: F401
    LossCase,
    dropout_cases,
    loss_cases,
)
from parity_tests.strategies.networks import (  # noqa: F401
    ACTIVATION_SPECS,
    architectures,
    deep_architectures,
    option_architectures,
    residual_architectures,
    residual_blocks,
)
from parity_tests.strategies.options import (  # noqa: F401
    PAD_MODES,
    ConvModuleCase,
    adaptive_cases,
    conv_module_cases,
    pad_cases,
)
from parity_tests.strategies.specs import (  # noqa: F401
    ACTIVATION_KINDS,
    BASIC_ACTIVATIONS,
    BATCH_NORM_HAS_BIAS,
    BN_EPS,
    BN_MOMENTA,
    DRAWN_FIELDS,
    LAYER_SPECS,
    SPEC_FAMILIES,
    SPEC_STRATEGIES,
    _geometry_pair,
    _maybe_one_tuple,
    activation_specs,
    adaptive_specs,
    avg_pool_specs,
    batch_norm_specs,
    conv1d_specs,
    conv_specs,
    conv_transpose2d_specs,
    linear_specs,
    max_pool1d_specs,
    max_pool_specs,
    sequence_specs,
    transformer_specs,
)
from parity_tests.strategies.values import (  # noqa: F401
    _TIE_VALUES,
    INPUT_VALUES,
    OFFSETS,
    SEEDS,
    SPREADS,
    WEIGHT_VALUES,
    array,
    batch_shapes,
    fewer_examples,
    more_examples,
    offset_channels,
    pointwise_inputs,
)
