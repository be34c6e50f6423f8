"""Class vocabularies of AVSBench (S4 categories, AVSS classes) and the AVSS VOC palette."""
from __future__ import annotations

import numpy as np

S4_CATEGORIES: tuple[str, ...] = (
    "baby_laughter", "female_singing", "male_speech", "dog_barking", "cat_meowing",
    "lions_roaring", "horse_clip-clop", "coyote_howling", "mynah_bird_singing",
    "playing_acoustic_guitar", "playing_tabla", "playing_violin", "playing_piano",
    "playing_ukulele", "playing_glockenspiel", "helicopter", "race_car", "driving_buses",
    "ambulance_siren", "typing_on_computer_keyboard", "chainsawing_trees",
    "cap_gun_shooting", "lawn_mowing",
)

#: AVSS classes in `label2idx.json` order: index i here is label2idx value i+1; 0 is background.
AVSS_CLASSES: tuple[str, ...] = (
    "background",
    "accordion",
    "airplane",
    "axe",
    "baby",
    "bassoon",
    "bell",
    "bird",
    "boat",
    "boy",
    "bus",
    "car",
    "cat",
    "cello",
    "clarinet",
    "clipper",
    "clock",
    "dog",
    "donkey",
    "drum",
    "duck",
    "elephant",
    "emergency-car",
    "erhu",
    "flute",
    "frying-food",
    "girl",
    "goose",
    "guitar",
    "gun",
    "guzheng",
    "hair-dryer",
    "handpan",
    "harmonica",
    "harp",
    "helicopter",
    "hen",
    "horse",
    "keyboard",
    "leopard",
    "lion",
    "man",
    "marimba",
    "missile-rocket",
    "motorcycle",
    "mower",
    "parrot",
    "piano",
    "pig",
    "pipa",
    "saw",
    "saxophone",
    "sheep",
    "sitar",
    "sorna",
    "squirrel",
    "tabla",
    "tank",
    "tiger",
    "tractor",
    "train",
    "trombone",
    "truck",
    "trumpet",
    "tuba",
    "ukulele",
    "utv",
    "vacuum-cleaner",
    "violin",
    "wolf",
    "woman",
)
NUM_AVSS_CLASSES = len(AVSS_CLASSES)  # 71

#: The AVSS class heard in each S4 category (AVSS v1s rows re-use the S4 clips).
S4_CATEGORY_TO_AVSS: dict[str, str] = {
    "baby_laughter": "baby", "female_singing": "woman", "male_speech": "man",
    "dog_barking": "dog", "cat_meowing": "cat", "lions_roaring": "lion",
    "horse_clip-clop": "horse", "coyote_howling": "wolf", "mynah_bird_singing": "bird",
    "playing_acoustic_guitar": "guitar", "playing_tabla": "tabla", "playing_violin": "violin",
    "playing_piano": "piano", "playing_ukulele": "ukulele", "playing_glockenspiel": "marimba",
    "helicopter": "helicopter", "race_car": "car", "driving_buses": "bus",
    "ambulance_siren": "emergency-car", "typing_on_computer_keyboard": "keyboard",
    "chainsawing_trees": "saw", "cap_gun_shooting": "gun", "lawn_mowing": "mower",
}

#: Object names that occur in MS3 clips (AVSS v1m `a_obj`), SPEC §2.
MS3_OBJECTS: tuple[str, ...] = (
    "guitar", "tabla", "violin", "ukulele", "piano", "marimba", "man", "woman", "baby",
    "dog", "cat", "lion", "bird", "wolf", "mower", "background", "bus", "car", "gun", "saw",
    "emergency-car", "keyboard",
)


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC bit-interleave colour map, `[n, 3]` uint8 (index 1 = (128, 0, 0))."""
    idx = np.arange(n)
    cmap = np.zeros((n, 3), dtype=np.int64)
    for shift in range(8):
        for ch in range(3):
            bit = (idx >> ch) & 1
            cmap[:, ch] |= bit << (7 - shift)
        idx = idx >> 3
    return cmap.astype(np.uint8)


AVSS_PALETTE: np.ndarray = voc_palette(NUM_AVSS_CLASSES)


def avss_class_index(name: str) -> int:
    """Index of an AVSS class name (0 = background); ValueError names unknown classes."""
    try:
        return AVSS_CLASSES.index(name)
    except ValueError:
        raise ValueError(f"unknown AVSS class {name!r}") from None
