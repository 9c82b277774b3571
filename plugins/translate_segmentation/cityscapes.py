"""The Cityscapes label set as the segmentation score uses it (no torch, no NumPy).

Facts from the Cityscapes definition (Cordts et al., CVPR 2016, ``cityscapesScripts`` ``labels.py``):
each of the 34 label ids of the ``*_gtFine_labelIds.png`` files has a train id (0..18 for the 19
evaluated classes, 255 for the ones left out of evaluation) and a colour (the ``*_gtFine_color.png``
files, from which the pix2pix authors' training inputs were made).
"""

from __future__ import annotations

IGNORE = 255
"""The train id of pixels that are not evaluated."""

CLASS_NAMES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
"""The 19 evaluated classes, in train-id order."""

# label id -> (name, train id, colour)
LABELS: dict[int, tuple[str, int, tuple[int, int, int]]] = {
    0: ("unlabeled", IGNORE, (0, 0, 0)),
    1: ("ego vehicle", IGNORE, (0, 0, 0)),
    2: ("rectification border", IGNORE, (0, 0, 0)),
    3: ("out of roi", IGNORE, (0, 0, 0)),
    4: ("static", IGNORE, (0, 0, 0)),
    5: ("dynamic", IGNORE, (111, 74, 0)),
    6: ("ground", IGNORE, (81, 0, 81)),
    7: ("road", 0, (128, 64, 128)),
    8: ("sidewalk", 1, (244, 35, 232)),
    9: ("parking", IGNORE, (250, 170, 160)),
    10: ("rail track", IGNORE, (230, 150, 140)),
    11: ("building", 2, (70, 70, 70)),
    12: ("wall", 3, (102, 102, 156)),
    13: ("fence", 4, (190, 153, 153)),
    14: ("guard rail", IGNORE, (180, 165, 180)),
    15: ("bridge", IGNORE, (150, 100, 100)),
    16: ("tunnel", IGNORE, (150, 120, 90)),
    17: ("pole", 5, (153, 153, 153)),
    18: ("polegroup", IGNORE, (153, 153, 153)),
    19: ("traffic light", 6, (250, 170, 30)),
    20: ("traffic sign", 7, (220, 220, 0)),
    21: ("vegetation", 8, (107, 142, 35)),
    22: ("terrain", 9, (152, 251, 152)),
    23: ("sky", 10, (70, 130, 180)),
    24: ("person", 11, (220, 20, 60)),
    25: ("rider", 12, (255, 0, 0)),
    26: ("car", 13, (0, 0, 142)),
    27: ("truck", 14, (0, 0, 70)),
    28: ("bus", 15, (0, 60, 100)),
    29: ("caravan", IGNORE, (0, 0, 90)),
    30: ("trailer", IGNORE, (0, 0, 110)),
    31: ("train", 16, (0, 80, 100)),
    32: ("motorcycle", 17, (0, 0, 230)),
    33: ("bicycle", 18, (119, 11, 32)),
}


def id_to_train_id() -> list[int]:
    """A 256-entry lookup table: label id (a pixel value of a labelIds file) -> train id (255 = ignored)."""
    table = [IGNORE] * 256
    for label_id, (_, train_id, _) in LABELS.items():
        table[label_id] = train_id
    return table


def colour_palette() -> list[tuple[tuple[int, int, int], int]]:
    """Every colour of the ``gtFine_color`` images with the train id it stands for.

    A colour shared by several label ids stands for the evaluated one: (153, 153, 153) is both
    "pole" and "polegroup" and decodes to pole; black (five void ids) decodes to ignored.
    """
    chosen: dict[tuple[int, int, int], int] = {}
    for _, train_id, colour in LABELS.values():
        if colour not in chosen or chosen[colour] == IGNORE:
            chosen[colour] = train_id
    return sorted(chosen.items(), key=lambda item: item[1])
