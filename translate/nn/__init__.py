"""Shared network building blocks and the tensor-level tools the engine and inference share.

- :mod:`~translate.nn.layers`: weight initialisation, norm layers (an InstanceNorm that keeps
  channels_last), ``is_channels_last``;
- :mod:`~translate.nn.gemm_conv`: convolutions on small feature maps as one matrix product;
- :mod:`~translate.nn.traits`: what the core reads from a network (``size_multiple``, ``scale_factor``, the authors' checkpoints);
- :mod:`~translate.nn.test_mode`: a generator's test-time mode (eval or the paper's train mode), seeded dropout;
- :mod:`~translate.nn.precision`: whether a device computes bf16 natively;
- :mod:`~translate.nn.features`: how a generator exposes its intermediate features (``FeatureEncoder``).

Imports only :mod:`translate.errors`.
"""
