"""Options models of the perceptual losses and the timm U-Net (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from translate.api import Options

_WEIGHTS_FILE = (
    "local weights file of the backbone (.safetensors, or .pth/.pt/.bin read with weights_only), a folder holding "
    "it under its usual name, or hf://owner/repo/path (read from the Hugging Face cache); unset: the usual folders "
    "are searched for <model>.safetensors, then timm loads the weights from the Hugging Face Hub (or its cache)"
)


class FeatureLossOptions(Options):
    """What the perceptual and style losses share: the timm backbone, its layers and its weights."""

    validation_rules = (
        "`layer_weights`, when given, has one weight (>= 0) per entry of `layers`.",
        "`weights_file` needs `weights = \"pretrained\"`.",
    )

    model: str = Field("vgg16", min_length=1, description="timm model name of the fixed loss network (features_only)")
    layers: list[int | str] = Field(
        ["relu2_2"], min_length=1,
        description="feature layers: timm feature indices (0 = shallowest), timm module names (feature_info), or "
        "for VGG models the names reluB_K (block B, conv K) of the layers timm returns, e.g. relu2_2 "
        "(docs/losses.md lists them)",
    )
    layer_weights: list[float] | None = Field(None, description="weight of each layer's term (default: 1 each)")
    distance: Literal["l2", "l1"] = Field("l2", description="distance between the features (l2 as in the paper)")
    weights: Literal["pretrained", "random"] = Field(
        "pretrained",
        description="'pretrained' (from weights_file, the usual folders or the Hub; an error if none has them) or "
        "'random' (an untrained network: only for tests)",
    )
    weights_file: str | None = Field(None, description=_WEIGHTS_FILE)

    @model_validator(mode="after")
    def _consistent(self) -> "FeatureLossOptions":
        if self.layer_weights is not None and len(self.layer_weights) != len(self.layers):
            raise ValueError(f"layer_weights has {len(self.layer_weights)} entries but layers has {len(self.layers)}")
        if self.layer_weights is not None and any(w < 0 for w in self.layer_weights):
            raise ValueError("layer_weights must not be negative")
        if self.weights_file is not None and self.weights != "pretrained":
            raise ValueError("weights_file is set but weights is not 'pretrained'")
        return self


class PerceptualOptions(FeatureLossOptions):
    """Feature reconstruction loss (Johnson et al. 2016): relu2_2 of VGG-16 by default."""


class StyleOptions(FeatureLossOptions):
    """Style reconstruction loss (Johnson et al. 2016): Gram matrices at relu1_2, relu2_2, relu3_3, relu4_3."""

    layers: list[int | str] = Field(
        ["relu1_2", "relu2_2", "relu3_3", "relu4_3"], min_length=1,
        description="feature layers: timm feature indices (0 = shallowest), timm module names (feature_info), or "
        "for VGG models the names reluB_K (block B, conv K) of the layers timm returns (docs/losses.md lists them)",
    )


class TimmUNetOptions(Options):
    """A U-Net decoder on a timm encoder (features_only)."""

    validation_rules = (
        "`decoder_channels`, when given, has one entry per encoder feature (the last one is the full-resolution "
        "stage).",
        "`weights_file` needs `weights = \"pretrained\"` (model files keep it, informational, with \"stored\").",
    )

    backbone: str = Field("resnet34", min_length=1, description="timm model name of the encoder (features_only)")
    weights: Literal["pretrained", "random", "stored"] = Field(
        "pretrained",
        description="encoder initialisation: 'pretrained' (from weights_file, the usual folders or the Hub; an error "
        "if none has them), 'random' (timm's initialisation), or 'stored' (no initialisation because a model file "
        "fills every tensor: what model files record, so that loading a model never needs the backbone's weights; "
        "in a recipe only with train.init_from, otherwise it trains from timm's random initialisation)",
    )
    weights_file: str | None = Field(None, description=_WEIGHTS_FILE.replace("<model>", "<backbone>"))
    out_indices: list[int] | None = Field(None, description="encoder features used as skips (default: all of them)")
    decoder_channels: list[int] | None = Field(
        None, description="channels of each decoder stage, deepest first (default 256, 128, 64, 32, 16, ... cut to "
        "the number of encoder features)",
    )
    norm: Literal["batch", "instance", "none"] = Field("batch", description="normalisation in the decoder blocks")
    upsample: Literal["nearest", "bilinear"] = Field("nearest", description="interpolation of the decoder")

    @model_validator(mode="after")
    def _consistent(self) -> "TimmUNetOptions":
        if self.decoder_channels is not None and (not self.decoder_channels or min(self.decoder_channels) < 1):
            raise ValueError("decoder_channels must be positive channel counts")
        if self.out_indices is not None and not self.out_indices:
            raise ValueError("out_indices must not be empty")
        if self.weights_file is not None and self.weights == "random":
            raise ValueError("weights_file is set but weights is 'random'")
        return self
