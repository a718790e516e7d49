"""The doodle world: a generated, offline sketch-photo dataset for every setting of the book.

At least 40 parametric object classes, each named after a Quick, Draw! category, drawn as amateur
vector sketches (stroke-3) and painted as photo-like RGB images of the same instances, with
fine-grained pairs and triplet annotations (shoe, chair), mid-grain variants, class semantic
vectors and ready-made category / fine-grained / zero-shot / mid-grain splits::

    from sbir_lib.data import doodleworld as dw
    world = dw.DoodleWorld(seed=0)
    item = world.item("shoe", 3)                    # DoodleItem: sketch (N, 3), photo (128, 128, 3)
    test = dw.make_split("fine_grained", "test", category="shoe")
    test.triplets.shape                             # (115, 45, 2)

Heavy pieces (numba kernels, tqdm) are imported on first use. The data layer draws no figures: the
gallery of every class is :func:`sbir_lib.viz.doodleworld_gallery`.
"""

from __future__ import annotations

from .classes import CLASS_MODELS, CLASS_NAMES, FINE_GRAINED_CLASSES, Attribute, ClassModel, get_class
from .parts import Part, amateur_strokes
from .photos import render_photo, view_params
from .semantics import class_parts, class_semantics, part_vocabulary, semantic_feature_names
from .sketches import render_sketch, sketch_style
from .splits import DEFAULT_SIZES, PARTS, SPLIT_KINDS, DoodleSplit, make_split, split_cache_path, zero_shot_classes
from .triplets import annotate_triplets, candidate_photos
from .world import DEFAULT_DIFFICULTY, VERSION, DoodleItem, DoodleWorld, Instance


__all__ = [
    "CLASS_MODELS", "CLASS_NAMES", "FINE_GRAINED_CLASSES", "Attribute", "ClassModel", "get_class", "Part", "amateur_strokes",
    "render_photo", "view_params", "class_parts", "class_semantics", "part_vocabulary", "semantic_feature_names",
    "render_sketch", "sketch_style", "DEFAULT_SIZES", "PARTS", "SPLIT_KINDS", "DoodleSplit", "make_split", "split_cache_path",
    "zero_shot_classes", "annotate_triplets", "candidate_photos", "DEFAULT_DIFFICULTY", "VERSION", "DoodleItem", "DoodleWorld",
    "Instance",
]
