"""The segmentation score (FCN-score): scores against a hand-computed confusion matrix, label sources,
the FCN-8s segmenter and the Caffe converter (on caffemodels this test writes in the protobuf wire format)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from translate.api import DataError, EvalBatch, MetricContext, ModelFileError, PluginError, WeightsMissing
from translate.commands.main import main as translate_main
from translate.plugin.loading import load_plugins
from translate.plugin.registry import OptionsInvalid
from translate.testing import check_options_strict
from translate_segmentation.cityscapes import CLASS_NAMES, LABELS
from translate_segmentation.convert_caffe import convert
from translate_segmentation.fcn8s import CAFFE_NAMES, NO_BIAS, FCN8s
from translate_segmentation.labels import LabelFiles, decode_palette
from translate_segmentation.score import FCNScore, confusion, scores

REG = load_plugins().registry
K, WIDTH = 3, 2  # a tiny FCN-8s: 3 classes, first block 2 channels wide


# --- the three scores ------------------------------------------------------------------------------

LABEL = torch.tensor([[0, 0, 1], [1, 2, 255]])
PRED = torch.tensor([[0, 1, 1], [2, 2, 0]])
# rows: label, columns: prediction; the 255 pixel is not counted
HAND = [[1, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_confusion_and_scores_match_the_hand_computed_matrix() -> None:
    hist, dropped = confusion(LABEL, PRED, 3)
    assert not dropped
    assert hist[:, :3].tolist() == HAND and hist[:, 3].tolist() == [0, 0, 0]
    s = scores(hist)
    assert s["pixel_acc"] == pytest.approx(3 / 5)
    assert s["mean_class_acc"] == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
    assert s["iou"] == pytest.approx([1 / 2, 1 / 3, 1 / 2])
    assert s["mean_iou"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)


def test_an_absent_class_counts_zero_as_in_the_authors_get_scores() -> None:
    hist, _ = confusion(torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]), 3)
    s = scores(hist)
    assert s["pixel_acc"] == pytest.approx(1.0)
    assert s["mean_class_acc"] == pytest.approx(2 / 3) and s["mean_iou"] == pytest.approx(2 / 3)


def test_predictions_outside_the_evaluated_classes() -> None:
    labels, preds = torch.tensor([0, 1, 1]), torch.tensor([3, 1, 1])  # class 3: the FCN's extra channel
    authors, dropped = confusion(labels, preds, 3, outside="authors")
    assert not dropped and authors[1, 0] == 1 and authors[0].sum() == 0  # fast_hist's index 3*0+3 lands on (1, 0)
    wrong, _ = confusion(labels, preds, 3, outside="wrong")
    assert wrong[0, 3] == 1 and wrong[1, 1] == 2
    assert scores(wrong)["iou"][0] == 0.0 and scores(wrong)["class_acc"][1] == pytest.approx(1.0)
    # label 2 predicted 3: index 9 passes the 3x3 table; the authors' fast_hist drops the whole frame
    hist, dropped = confusion(torch.tensor([2, 0]), torch.tensor([3, 0]), 3, outside="authors")
    assert dropped and hist.sum() == 0


# --- label sources ---------------------------------------------------------------------------------

def _to_input(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1.0


def _cityscapes_palette() -> tuple[torch.Tensor, torch.Tensor]:
    from translate_segmentation.cityscapes import colour_palette

    pairs = colour_palette()
    return torch.tensor([c for c, _ in pairs], dtype=torch.float32), torch.tensor([t for _, t in pairs])


def test_palette_decoding_by_nearest_colour_with_tolerance() -> None:
    rgb = np.array([[[128, 64, 128], [130, 60, 125], [0, 0, 142]],          # road, road (jittered), car
                    [[153, 153, 153], [0, 0, 0], [40, 200, 90]]], np.uint8)  # pole (not polegroup), void, far
    colours, ids = _cityscapes_palette()
    labels = decode_palette(_to_input(rgb), colours, ids, tolerance=30.0, ignore_index=255)
    assert labels.tolist() == [[[0, 0, 13], [5, 255, 255]]]
    tight = decode_palette(_to_input(rgb), colours, ids, tolerance=2.0, ignore_index=255)
    assert tight[0, 0, 1] == 255  # the jittered road is farther than 2 from every colour


def _write_labels(root: Path, frames: dict[str, np.ndarray]) -> None:
    for frame, ids in frames.items():
        city = frame.split("_")[0]
        (root / city).mkdir(parents=True, exist_ok=True)
        Image.fromarray(ids.astype(np.uint8), mode="L").save(root / city / f"{frame}_gtFine_labelIds.png")
        Image.fromarray(np.zeros((*ids.shape, 3), np.uint8)).save(root / city / f"{frame}_gtFine_color.png")


def test_label_files_match_by_name_and_by_index(tmp_path: Path) -> None:
    a = np.array([[7, 26], [0, 33]])  # road, car, unlabeled, bicycle
    b = np.array([[8, 8], [24, 18]])  # sidewalk, sidewalk, person, polegroup
    _write_labels(tmp_path, {"lindau_000001_000019": b, "frankfurt_000000_000294": a})
    files = LabelFiles(tmp_path)
    assert files.load("frankfurt_000000_000294").tolist() == [[0, 13], [255, 18]]
    assert files.load("frankfurt_000000_000294_leftImg8bit").tolist() == [[0, 13], [255, 18]]
    with pytest.raises(DataError, match="no label file for item 'munster_1'.*labels_match = 'index'"):
        files.load("munster_1")
    by_index = LabelFiles(tmp_path, match="index")  # sorted paths: frankfurt/... before lindau/...
    assert by_index.load("0").tolist() == [[0, 13], [255, 18]] and by_index.load("1").tolist() == [[1, 1], [11, 255]]
    assert LabelFiles(tmp_path, match="index", index_base=1).load("2").tolist() == [[1, 1], [11, 255]]
    with pytest.raises(DataError, match="file number 2"):
        by_index.load("2")
    with pytest.raises(DataError, match="numbers"):
        by_index.load("frankfurt")
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb_labelIds.png")
    with pytest.raises(DataError, match="not a label-id image"):
        LabelFiles(tmp_path).load("rgb")
    with pytest.raises(DataError, match="is not a folder"):
        LabelFiles(tmp_path / "nope").load("x")


def test_cityscapes_tables() -> None:
    train = sorted((t, name) for name, t, _ in LABELS.values() if t != 255)
    assert [name for _, name in train] == list(CLASS_NAMES) and len(CLASS_NAMES) == 19


# --- the metric, with a segmenter that reads the colours back ------------------------------------

class ColourOracle(nn.Module):
    """A segmenter that predicts the class of the nearest of K colours (for exact expected scores)."""

    def __init__(self, colours: list[list[int]]) -> None:
        super().__init__()
        self.colours = torch.tensor(colours, dtype=torch.float32)
        self.num_classes, self.class_names = len(colours), [f"c{i}" for i in range(len(colours))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = (x + 1) * 127.5
        return -((rgb[:, None] - self.colours[None, :, :, None, None]) ** 2).sum(2)


PALETTE = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def _metric(options: dict, segmenter: nn.Module | None = None) -> FCNScore:
    built: list[tuple] = []

    def build(kind: str, name: str, opts: dict, **kwargs: object) -> nn.Module:
        built.append((kind, name, opts))
        return segmenter or ColourOracle(PALETTE)

    comp = REG.get("metric", "fcn_score")
    metric = comp.build(options, ctx=MetricContext(device=torch.device("cpu"), build=build))
    assert built and built[0][0] == "segmenter"
    return metric


def _image(classes: list[list[int]]) -> torch.Tensor:
    return _to_input(np.array([[PALETTE[c] for c in row] for row in classes], np.uint8))


def test_fcn_score_on_a_batch_equals_the_hand_computed_scores() -> None:
    metric = _metric({"num_classes": 3, "palette": PALETTE, "segmenter": {"name": "oracle", "options": {"k": 1}},
                      "per_class": True})
    labels = _image([[0, 0, 1], [1, 2, 2]])
    labels[0, :, 1, 2] = torch.tensor([0.2, 0.2, 0.2])  # grey: farther than the tolerance -> ignored
    fake = _image(PRED.clamp(max=2).tolist())
    metric.update(EvalBatch(fake=fake, real=fake, input=labels, names=["a"]))
    values = metric.compute()
    assert values["fcn_pixel_acc"] == pytest.approx(3 / 5)
    assert values["fcn_class_acc"] == pytest.approx(2 / 3)
    assert values["fcn_iou"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)
    assert values["fcn_iou_c1"] == pytest.approx(1 / 3)
    assert metric.higher_is_better("fcn_iou")
    proto = metric.protocol()
    assert proto["segmenter"] == "oracle" and proto["classes"] == ["c0", "c1", "c2"] and proto["size"] == "label size"
    assert "palette" in proto["label_source"] and "bilinear" in proto["resize"]
    metric.reset()
    with pytest.raises(DataError, match="no labelled pixel"):
        metric.compute()


def test_fcn_score_resizes_to_the_label_files_and_scores_real_images(tmp_path: Path) -> None:
    ids = np.zeros((4, 6), np.uint8)
    ids[:, 3:] = 1
    (tmp_path / "x").mkdir()
    Image.fromarray(ids, mode="L").save(tmp_path / "x" / "item7_labelTrainIds.png")
    options = {"num_classes": 3, "labels": "files", "labels_dir": str(tmp_path), "label_values": "train_ids"}
    left_right = _image([[0, 1]])  # 1x2, upsampled to 4x6 (bilinear): left half class 0, right half class 1
    for images in ("fake", "real"):
        metric = _metric({**options, "images": images})
        other = _image([[2, 2]])
        fake, real = (left_right, other) if images == "fake" else (other, left_right)
        metric.update(EvalBatch(fake=fake, real=real, input=other, names=["item7"]))
        assert metric.compute()["fcn_pixel_acc"] == pytest.approx(1.0)
        assert metric.protocol()["label_sizes"] == [[4, 6]]


def test_generated_images_are_resized_as_pil_bilinear_of_8_bit_images() -> None:
    metric = _metric({"num_classes": 3})
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    fake = _to_input(small) + 0.001  # truncated back to the same 8-bit values
    ours = ((metric.prepare(fake, (20, 16)) + 1) * 127.5).round()[0].permute(1, 2, 0).numpy()
    pil = np.asarray(Image.fromarray(small).resize((16, 20), Image.BILINEAR), dtype=np.float32)
    assert np.abs(ours - pil).max() <= 1.0


def test_fcn_score_needs_enough_segmenter_classes() -> None:
    with pytest.raises(PluginError, match="fewer than num_classes"):
        _metric({"num_classes": 19}, ColourOracle(PALETTE))


# --- FCN-8s and its weights ------------------------------------------------------------------------

def _random_weights(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    state = {k: v.contiguous() for k, v in FCN8s(K, width=WIDTH).state_dict().items()}
    save_file(state, str(path))
    return state


def test_fcn8s_forward_shape_with_a_weights_file(tmp_path: Path) -> None:
    state = _random_weights(tmp_path / "w.safetensors")
    weights = str(tmp_path / "w.safetensors")
    net = REG.get("segmenter", "fcn8s").build({"num_classes": K, "width": WIDTH, "weights": weights})
    assert net.num_classes == K and net.class_names == ["road", "sidewalk", "building"]
    assert torch.equal(net.score_fr.weight, state["score_fr.weight"]) and not net.training
    for size in ((1, 1), (21, 35)):
        out = net(torch.rand(2, 3, *size) * 2 - 1)
        assert out.shape == (2, K, *size) and torch.isfinite(out).all()
    assert len(net.weights_sha256) == 64


def _bilinear(channels: int, kernel: int) -> torch.Tensor:
    factor = (kernel + 1) // 2
    centre = factor - 1 if kernel % 2 else factor - 0.5
    taps = 1 - (torch.arange(kernel, dtype=torch.float32) - centre).abs() / factor
    weight = torch.zeros(channels, channels, kernel, kernel)
    weight[0, 0] = taps[:, None] * taps[None, :]
    return weight


def test_fcn8s_padding_pooling_and_crops_keep_the_output_aligned_with_the_input() -> None:
    """With identity convolutions and bilinear upsampling, a bright pixel comes out where it went in.

    The 100-pixel padding of conv1_1, fc6's 7x7 window and the final crop at 31 cancel only together:
    a wrong padding or crop moves the peak by 16 pixels or more. (Caffe's rounding-up pooling is what
    lets a 1x1 image through, in the shape test.)
    """
    net = FCN8s(1, width=1)
    with torch.no_grad():
        for name, module in net.named_children():
            module.weight.zero_()
            if module.bias is not None:
                module.bias.zero_()
            if isinstance(module, nn.ConvTranspose2d):
                module.weight.copy_(_bilinear(1, module.kernel_size[0]))
            elif not name.startswith("score_pool"):
                k = module.kernel_size[0]
                module.weight[0, 0, k // 2, k // 2] = 1.0
    for y, x in ((20, 30), (45, 70), (33, 51)):
        image = -torch.ones(1, 3, 64, 96)
        image[..., y, x] = 1.0
        out = net(image)[0, 0]
        peak_y, peak_x = divmod(int(out.argmax()), out.shape[1])
        assert abs(peak_y - y) <= 17 and abs(peak_x - x) <= 17, ((y, x), (peak_y, peak_x))


def test_fcn8s_feeds_the_caffe_input_bgr_minus_the_authors_means() -> None:
    net = FCN8s(K, width=WIDTH, mean_bgr=[72.78044, 83.21195, 73.45286])
    rgb = torch.tensor([10.0, 100.0, 200.0]).view(1, 3, 1, 1) / 127.5 - 1.0
    assert net.preprocess(rgb).flatten().tolist() == pytest.approx([200 - 72.78044, 100 - 83.21195, 10 - 73.45286],
                                                                   abs=1e-4)


def test_fcn8s_never_runs_without_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TRANSLATE_WEIGHTS_DIR", "XDG_CACHE_HOME", "TORCH_HOME", "HOME"):
        monkeypatch.setenv(var, str(tmp_path / "empty"))
    comp = REG.get("segmenter", "fcn8s")
    expected = "fcn8s_cityscapes.safetensors.*fcn-8s-cityscapes.caffemodel.*translate convert-fcn8s"
    with pytest.raises(WeightsMissing, match=expected):
        comp.build({})
    with pytest.raises(WeightsMissing, match="missing"):
        comp.build({"weights": str(tmp_path / "nope.safetensors")})
    save_file({"conv1_1.weight": torch.zeros(2, 3, 3, 3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ModelFileError, match="not FCN-8s weights.*missing"):
        comp.build({"num_classes": K, "width": WIDTH, "weights": str(tmp_path / "bad.safetensors")})


def test_options_are_validated() -> None:
    check_options_strict(REG.get("segmenter", "fcn8s"))
    check_options_strict(REG.get("metric", "fcn_score"))
    metric = REG.get("metric", "fcn_score")
    bad = [({"labels": "files"}, "needs labels_dir"), ({"labels_dir": "x"}, "labels = 'files'"),
           ({"num_classes": 2, "palette": [[0, 0, 0]]}, "palette has 1"), ({"size": [0, 4]}, "positive"),
           ({"palette_tolerance": -1}, "palette_tolerance"), ({"segmenter": {"nme": "x"}}, "segmenter.nme")]
    for values, message in bad:
        with pytest.raises(OptionsInvalid, match=message):
            metric.parse_options(values, "eval.options.fcn_score")
    with pytest.raises(OptionsInvalid, match="class_names has 1"):
        REG.get("segmenter", "fcn8s").parse_options({"num_classes": 2, "class_names": ["a"]}, "o")


# --- the Caffe converter, on caffemodels written here in the protobuf wire format -----------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _blob(array: np.ndarray, legacy: bool) -> bytes:
    data = _field(5, array.astype("<f4").tobytes())
    if legacy:  # num, channels, height, width as varints
        dims = list(array.shape) if array.ndim == 4 else [1, 1, 1, array.size]
        return b"".join(_varint(i << 3) + _varint(d) for i, d in enumerate(dims, 1)) + data
    return _field(7, _field(1, b"".join(_varint(d) for d in array.shape))) + data


def _caffemodel(path: Path, state: dict[str, torch.Tensor], *, legacy: bool = False, skip: str = "") -> None:
    name_field, blob_field, layer_field = (4, 6, 2) if legacy else (1, 7, 100)
    msg = _field(1, b"fcn8s")
    layers = [("data", [])] + [(c, [state[f"{p}.weight"]] + ([] if c in NO_BIAS else [state[f"{p}.bias"]]))
                               for c, p in CAFFE_NAMES.items() if c != skip] + [("relu1_1", [])]
    for name, blobs in layers:
        body = _field(name_field, name.encode())
        if not legacy:
            body += _field(2, b"Convolution")
        body += b"".join(_field(blob_field, _blob(b.numpy(), legacy)) for b in blobs)
        msg += _field(layer_field, body)
    path.write_bytes(msg)


@pytest.mark.parametrize("legacy", [False, True])
def test_convert_a_caffemodel_to_safetensors(tmp_path: Path, legacy: bool) -> None:
    state = _random_weights(tmp_path / "ref.safetensors", seed=1)
    _caffemodel(tmp_path / "net.caffemodel", state, legacy=legacy)
    out = tmp_path / "out" / "fcn8s.safetensors"
    assert translate_main(["convert-fcn8s", str(tmp_path / "net.caffemodel"), str(out)]) == 0
    converted = load_file(str(out))
    assert set(converted) == set(state) and all(torch.equal(converted[k], state[k]) for k in state)
    with pytest.raises(ModelFileError, match="exists; pass --force"):
        convert(tmp_path / "net.caffemodel", out)
    convert(tmp_path / "net.caffemodel", out, force=True)
    net = REG.get("segmenter", "fcn8s").build({"num_classes": K, "width": WIDTH, "weights": str(out)})
    assert torch.equal(net.fc6.weight, state["fc6.weight"])
    assert torch.equal(net.upscore8.weight, state["upscore8.weight"])
    assert list(tmp_path.glob("out/.*.tmp")) == []


def test_converter_errors_name_the_problem(tmp_path: Path) -> None:
    state = _random_weights(tmp_path / "ref.safetensors")
    _caffemodel(tmp_path / "partial.caffemodel", state, skip="score_pool3")
    out = tmp_path / "o.safetensors"
    with pytest.raises(ModelFileError, match="no layer score_pool3"):
        convert(tmp_path / "partial.caffemodel", out)
    (tmp_path / "deploy.prototxt").write_text('layer {\n  name: "data"\n}\n')
    with pytest.raises(ModelFileError, match="text prototxt"):
        convert(tmp_path / "deploy.prototxt", out)
    (tmp_path / "junk.caffemodel").write_bytes(struct.pack("<4I", 0xFFFFFFFF, 7, 7, 7) + b"\xff" * 9)
    with pytest.raises(ModelFileError, match="not a readable binary caffemodel"):
        convert(tmp_path / "junk.caffemodel", out)
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        convert(tmp_path / "empty.caffemodel", out)
    assert translate_main(["convert-fcn8s", str(tmp_path / "missing.caffemodel"), str(out)]) == 2
    assert not out.exists()


# --- through the evaluator, with the registered fcn8s ---------------------------------------------

class _LabelsToPhotos(torch.utils.data.Dataset):
    """Colour label maps (Cityscapes colours) as inputs, the same images as targets."""

    def __init__(self) -> None:
        from translate.api import DataInfo

        self.info = DataInfo(translations=(("AtoB", "input", "target"),), aligned=True)
        rng = np.random.default_rng(0)
        colours = [c for _, _, c in LABELS.values()]
        self.items = [_to_input(np.array([[colours[i] for i in row] for row in rng.integers(0, 34, (12, 20))],
                                         np.uint8))[0] for _ in range(3)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        i = key[0] if isinstance(key, tuple) else key  # the evaluator asks for (index, seed) sample keys
        return {"input": self.items[i], "target": self.items[i], "name": str(i)}


def test_fcn_score_through_the_evaluator(tmp_path: Path) -> None:
    from translate.api import file_sha256
    from translate.evaluation import GeneratorUnderTest, MetricSpec, evaluate_generators

    _random_weights(tmp_path / "fcn.safetensors")
    tiny = {"num_classes": K, "width": WIDTH, "weights": str(tmp_path / "fcn.safetensors")}
    segmenter = {"name": "fcn8s", "options": tiny}
    spec = MetricSpec("fcn_score", {"num_classes": K, "segmenter": segmenter, "size": [24, 40]})
    data = _LabelsToPhotos()
    result = evaluate_generators([GeneratorUnderTest("G", "AtoB", nn.Identity())], data, [spec], REG,
                                 device="cpu", batch_size=2)
    assert set(result.values) == {"fcn_pixel_acc", "fcn_class_acc", "fcn_iou"}
    assert all(0.0 <= v <= 1.0 for v in result.values.values()) and result.higher_is_better["fcn_iou"]
    proto = result.protocol
    text = str(proto)
    assert file_sha256(tmp_path / "fcn.safetensors") in text and "[24, 40]" in text
    # the same numbers as the metric computed by hand over the same images
    metric = _metric({"num_classes": K, "size": [24, 40]},
                     REG.get("segmenter", "fcn8s").build(segmenter["options"]))
    for i in range(len(data)):
        item = data[i]
        metric.update(EvalBatch(fake=item["input"][None], real=item["target"][None], input=item["input"][None],
                                names=[item["name"]]))
    assert metric.compute() == pytest.approx(result.values)


# --- making the pairs from the original Cityscapes files -----------------------------------------

def _fake_cityscapes(root: Path, frames: dict[str, list[str]]) -> None:
    rng = np.random.default_rng(0)
    for split, names in frames.items():
        for name in names:
            city = name.split("_")[0]
            for sub, suffix in (("leftImg8bit", "_leftImg8bit"), ("gtFine", "_gtFine_color")):
                (root / sub / split / city).mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)).save(
                    root / sub / split / city / f"{name}{suffix}.png")
            ids = np.full((16, 32), 7, np.uint8)
            Image.fromarray(ids, mode="L").save(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png")


def test_prepare_cityscapes_pairs_are_named_after_frames(tmp_path: Path) -> None:
    def prepare_main(argv):  # the plugin's command, through the translate command line
        return translate_main(["prepare-cityscapes", *argv])

    _fake_cityscapes(tmp_path / "cs", {"train": ["aachen_000000_000019"],
                                       "val": ["lindau_000001_000019", "frankfurt_000000_000294"]})
    args = [str(tmp_path / "cs" / "gtFine"), str(tmp_path / "cs" / "leftImg8bit"), str(tmp_path / "data"), "--size", "8"]
    assert prepare_main(args) == 0
    pairs = sorted(p.name for p in (tmp_path / "data" / "val").iterdir())
    assert pairs == ["frankfurt_000000_000294.jpg", "lindau_000001_000019.jpg"]
    with Image.open(tmp_path / "data" / "val" / pairs[0]) as img:
        assert img.size == (16, 8)
    with Image.open(tmp_path / "cs" / "leftImg8bit" / "val" / "frankfurt" / "frankfurt_000000_000294_leftImg8bit.png") as src:
        photo = np.asarray(src.resize((8, 8), Image.BICUBIC), np.float32)
    with Image.open(tmp_path / "data" / "val" / pairs[0]) as img:
        assert np.abs(np.asarray(img, np.float32)[:, :8] - photo).mean() < 3  # A (left) is the photo, JPEG q100
    assert prepare_main(args) == 2  # the pairs exist: not replaced without --force
    assert prepare_main(args + ["--force"]) == 0
    dataset = REG.get("dataset", "paired_ab").build({"root": str(tmp_path / "data"), "direction": "BtoA",
                                                     "load_size": 8, "crop_size": 8}, split="val")
    files = LabelFiles(tmp_path / "cs" / "gtFine" / "val")
    for i in range(len(dataset)):
        assert files.load(dataset[(i, 0)]["name"]).max() == 0  # every frame finds its labelIds file (road)
    (tmp_path / "cs" / "leftImg8bit" / "val" / "lindau" / "lindau_000001_000019_leftImg8bit.png").unlink()
    with pytest.raises(DataError, match="do not match"):
        from translate_segmentation.prepare_cityscapes import prepare

        prepare(tmp_path / "cs" / "gtFine", tmp_path / "cs" / "leftImg8bit", tmp_path / "o", splits=("val",))
