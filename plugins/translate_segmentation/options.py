"""Options of the FCN-8s segmenter and of the FCN-score metric (pydantic only: no torch on import)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from translate.api import Options

#: Per-channel means (B, G, R, on the 0..255 scale) subtracted by the authors' Caffe FCN-8s.
AUTHORS_MEAN_BGR = [72.78044, 83.21195, 73.45286]


class FCN8sOptions(Options):
    """FCN-8s (VGG-16, Caffe layout) as the pix2pix authors trained it on Cityscapes."""

    validation_rules: ClassVar[tuple[str, ...]] = (
        "class_names, when given, has num_classes entries.",
    )

    weights: str | None = Field(
        None, description="the converted weights: a .safetensors/.pth file, a folder holding "
        "fcn8s_cityscapes.safetensors, or hf://owner/repo/file[@rev]; unset: looked up as "
        "fcn8s_cityscapes.safetensors in $TRANSLATE_WEIGHTS_DIR, ~/.cache/translate/weights, the torch hub cache")
    num_classes: int = Field(20, ge=1, description="output channels of the score layers (the authors' net has "
                                                   "20: the 19 Cityscapes classes and one that is not evaluated)")
    class_names: list[str] | None = Field(None, description="a name per output channel; default the Cityscapes "
                                                            "classes (and 'void' for a 20th channel)")
    mean_bgr: list[float] = Field(default_factory=lambda: list(AUTHORS_MEAN_BGR), min_length=3, max_length=3,
                                  description="B, G, R means (0..255) subtracted from the input, as the weights "
                                              "expect (the authors' values by default)")
    width: int = Field(64, ge=1, description="channels of the first VGG block (64 for the authors' weights; the "
                                             "blocks have 1x, 2x, 4x, 8x, 8x and fc6/fc7 64x this)")

    @model_validator(mode="after")
    def _names_match(self) -> "FCN8sOptions":
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(f"class_names has {len(self.class_names)} entries but num_classes is {self.num_classes}")
        return self


class SegmenterSpec(Options):
    """A registered segmenter and its options."""

    name: str = Field("fcn8s", description="a segmenter registry name (`translate plugins`)")
    options: dict[str, Any] = Field(default_factory=dict, description="that segmenter's options")


class FCNScoreOptions(Options):
    """The segmentation score of generated photos against label maps (pix2pix's "FCN-score")."""

    validation_rules: ClassVar[tuple[str, ...]] = (
        "labels = \"files\" needs labels_dir, and labels_dir needs labels = \"files\".",
        "palette, when given, has num_classes colours [R, G, B] in 0..255; size is two positive integers.",
    )

    segmenter: SegmenterSpec = Field(default_factory=SegmenterSpec, description="the segmentation network")
    labels: Literal["input", "files"] = Field(
        "input", description="where the ground-truth labels come from: 'input' decodes the generator's input "
        "label map by nearest palette colour; 'files' reads label PNGs from labels_dir (the authors' protocol, "
        "with the original gtFine *_labelIds.png files)")
    labels_dir: str | None = Field(None, description="folder (searched recursively) of label PNG files")
    labels_match: Literal["name", "index"] = Field(
        "name", description="'name': the file named after the item (NAME.png, NAME_gtFine_labelIds.png, ...); "
        "'index': item 'i' is the i-th *labelIds.png in sorted path order (the numbering of the authors' "
        "prepare_cityscapes_dataset.py)")
    index_base: int = Field(0, ge=0, description="with labels_match = 'index': the number of the first item "
                                                 "(0 for the authors' prepare script)")
    label_values: Literal["cityscapes_ids", "train_ids"] = Field(
        "cityscapes_ids", description="what the label files hold: Cityscapes label ids (mapped to train ids) or "
                                      "train ids already")
    palette: list[list[int]] | None = Field(None, description="RGB colour (0..255) of each train id in the input "
                                                              "label maps; default the Cityscapes colours")
    palette_tolerance: float = Field(30.0, ge=0, description="input pixels farther than this (RGB distance, 0..255) "
                                                             "from every palette colour are ignored")
    num_classes: int = Field(19, ge=1, description="evaluated classes (train ids 0..num_classes-1)")
    ignore_index: int = Field(255, ge=0, description="label value that is not evaluated")
    size: list[int] | None = Field(None, min_length=2, max_length=2,
                                   description="[H, W] the generated image is resized to (bilinear) before "
                                               "segmentation; default the label map's size, as the authors do")
    quantize: bool = Field(True, description="round generated images down to 8 bits first, as the authors' saved "
                                             "PNG results were")
    outside_classes: Literal["authors", "wrong"] = Field(
        "authors", description="predictions of a class >= num_classes (the FCN's 20th channel): 'authors' counts "
        "them as the authors' fast_hist does; 'wrong' counts them as misclassified pixels")
    images: Literal["fake", "real"] = Field(
        "fake", description="what is segmented: the generated images, or the real photos of the split (the "
        "paper's 'ground truth' row, a check of the labels and weights before scoring a model)")
    per_class: bool = Field(False, description="also report fcn_acc_<class> and fcn_iou_<class> "
                                               "(spaces in class names become _)")
    tf32: bool = Field(False, description="let NVIDIA GPUs run the segmenter's convolutions in TensorFloat-32 "
                                          "(faster, less exact); off: full float32, as the authors' Caffe ran")
    segment_batch: int = Field(1, ge=1, description="images per segmenter forward pass (1024x2048 inputs are large)")

    @model_validator(mode="after")
    def _consistent(self) -> "FCNScoreOptions":
        if self.labels == "files" and not self.labels_dir:
            raise ValueError("labels = 'files' needs labels_dir (a folder of label PNG files)")
        if self.labels != "files" and self.labels_dir:
            raise ValueError("labels_dir is set but labels is 'input'; set labels = 'files' to use it")
        if self.palette is not None:
            if len(self.palette) != self.num_classes:
                raise ValueError(f"palette has {len(self.palette)} colours but num_classes is {self.num_classes}")
            if any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in self.palette):
                raise ValueError("palette entries must be [R, G, B] with values 0..255")
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f"size must be two positive integers [H, W], got {self.size}")
        return self
