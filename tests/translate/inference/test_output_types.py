"""The file type of ``translate infer``'s outputs: PNG where it can hold them, TIFF for more than 4 channels
(and 2 channels at 16 bits); ``--html`` refused for models a browser cannot show."""

from __future__ import annotations

from pathlib import Path

import pytest

from translate.errors import DataError
from translate.inference.inputs import InputImage
from translate.inference.outputs import output_items, output_suffix
from translate.models.schema import GeneratorMeta, PluginMeta


def _meta(cin: int, cout: int, bit_depth: int = 8) -> GeneratorMeta:
    return GeneratorMeta(component="unet", plugin=PluginMeta(name="p", distribution="d", version="1"),
                         in_channels=cin, out_channels=cout, bit_depth=bit_depth)


@pytest.mark.parametrize(("channels", "bit_depth", "suffix"), [
    (1, 8, ".png"), (3, 16, ".png"), (4, 16, ".png"), (2, 8, ".png"), (2, 16, ".tif"), (5, 8, ".tif"), (13, 16, ".tif"),
])
def test_output_suffix(channels, bit_depth, suffix):
    assert output_suffix(channels, bit_depth) == suffix


def test_output_items_rename_only_what_a_png_cannot_hold_and_refuse_html_beyond_4_channels():
    items = [InputImage(Path("in/a.tif"), Path("a.png")), InputImage(Path("in/sub/b.png"), Path("sub/b.png"))]
    assert output_items(items, _meta(4, 4, 16), html=True) == items
    renamed = output_items(items, _meta(4, 6, 16))
    assert [i.relative for i in renamed] == [Path("a.tif"), Path("sub/b.tif")]
    assert [i.source for i in renamed] == [i.source for i in items]
    with pytest.raises(DataError, match=r"--html.*maps 6 to 3 channels"):
        output_items(items, _meta(6, 3), html=True)
