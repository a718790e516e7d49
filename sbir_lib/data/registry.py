"""The table of remote dataset resources and :func:`fetch`, which finds or downloads one.

A resource's *name* is also its relative path in a mirror and in the cache
(``qmul_shoes_v1/shoes_annotation.json``, ``quickdraw/raw/The Eiffel Tower.ndjson``).
:func:`fetch` looks in the mirror folders (``SBIR_DATA_MIRROR``), then in the cache
(``SBIR_DATA``), then downloads (progress bar, retries, resume, sha256, atomic move), or, for
files that only exist inside an archive, downloads and safely extracts the archive. Offline,
the error says what to download, from where, and where to put it.

The per-class QuickDraw files (345 classes x raw / simplified / numpy_bitmap / sketchrnn) are
generated on demand, not listed one by one.
"""

from __future__ import annotations

import difflib
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from ..errors import DataError
from .download import DownloadError, download, extract_archive, sha256_of
from .paths import cache_dir, mirror_checksums, mirror_dirs
from .quickdraw_classes import QUICKDRAW_CLASSES

__all__ = ["Dataset", "Resource", "DATASETS", "get_resource", "get_dataset", "list_resources", "fetch",
           "fetch_dataset", "locate", "register", "unregister", "with_urls", "quickdraw_resource_name",
           "QUICKDRAW_FORMATS", "QUICKDRAW_BASE_URL"]


@dataclass(frozen=True)
class Dataset:
    """A dataset: licence, citation and home page shared by its resources."""

    name: str
    title: str
    license: str
    citation: str
    homepage: str
    notes: str = ""


@dataclass(frozen=True)
class Resource:
    """One fetchable file or folder.

    Attributes:
        name: relative path in mirrors and in the cache.
        dataset: key into :data:`DATASETS`.
        urls: download URLs (percent-encoded), tried in order; empty = manual download only.
        sha256: hex digest of the published file, when known (verified on every download).
        size: bytes, when known.
        extract: the file is an archive; :func:`fetch` returns the folder it is extracted to
            (``name`` without the archive suffix).
        archive: name of an archive resource that contains this file (found by base name).
        manual: how to get it by hand when there is no direct URL.
    """

    name: str
    dataset: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    extract: bool = False
    archive: str | None = None
    manual: str = ""
    description: str = ""

    @property
    def info(self) -> Dataset:
        return DATASETS[self.dataset]

    @property
    def target_name(self) -> str:
        """Relative path of what :func:`fetch` returns (the extracted folder for archives)."""
        if not self.extract:
            return self.name
        for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name + ".d"


# ----------------------------------------------------------------------------- datasets

DATASETS: dict[str, Dataset] = {d.name: d for d in [
    Dataset("quickdraw", "Google Quick, Draw!", "CC BY 4.0 (attribution: Google Creative Lab)",
            "Ha, D. and Eck, D. A Neural Representation of Sketch Drawings. ICLR 2018; "
            "Jongejan, J. et al. The Quick, Draw! - A.I. Experiment. Google, 2016.",
            "https://github.com/googlecreativelab/quickdraw-dataset"),
    Dataset("quickdraw_extended", "QuickDraw-Extended (110 classes, 330k sketches, 204k photos)",
            "research use (sketches CC BY 4.0 from Quick, Draw!; photos from Flickr, their owners' terms)",
            "Dey, S., Riba, P., Dutta, A., Llados, J. and Song, Y.-Z. Doodle to Search: Practical "
            "Zero-Shot Sketch-based Image Retrieval. CVPR 2019.",
            "https://sounakdey.github.io/doodle2search.github.io/"),
    Dataset("zeroshot", "Zero-shot class lists and class word vectors (Doodle-to-Search release)",
            "MIT (Doodle-to-Search code release); word2vec/GloVe/fastText vectors under their own terms",
            "Dey et al. Doodle to Search, CVPR 2019; Yelamarthi et al. A Zero-Shot Framework for "
            "Sketch-based Image Retrieval, ECCV 2018 (Sketchy 104/21 split).",
            "https://github.com/sounakdey/doodle2search"),
    Dataset("qmul_v1", "QMUL Shoe V1 / Chair V1 (Sketch Me That Shoe)", "research use only",
            "Yu, Q., Liu, F., Song, Y.-Z., Xiang, T., Hospedales, T. M. and Loy, C. C. Sketch Me That "
            "Shoe. CVPR 2016.",
            "http://www.eecs.qmul.ac.uk/~qian/Project_cvpr16.html"),
    Dataset("qmul_v2", "QMUL-Shoe-V2 / QMUL-Chair-V2 (SketchX)", "research use only",
            "Song, J., Yu, Q., Song, Y.-Z., Xiang, T. and Hospedales, T. M. Deep Spatial-Semantic "
            "Attention for Fine-Grained Sketch-Based Image Retrieval. ICCV 2017; Yu, Q. et al. "
            "Fine-grained instance-level sketch-based image retrieval. IJCV 2021.",
            "https://sketchx.eecs.qmul.ac.uk/downloads/"),
    Dataset("sketchy", "The Sketchy Database (+ Sketchy-Extended photos)",
            "Sketchy: CC BY 4.0 (sketches); photos from ImageNet, their owners' terms",
            "Sangkloy, P., Burnell, N., Ham, C. and Hays, J. The Sketchy Database: Learning to Retrieve "
            "Badly Drawn Bunnies. SIGGRAPH 2016; Liu, L. et al. Deep Sketch Hashing, CVPR 2017 "
            "(Sketchy-Extended photos).",
            "https://sketchy.eye.gatech.edu/"),
    Dataset("tuberlin", "TU-Berlin sketches (+ TU-Berlin-Extended photos)",
            "CC BY 4.0 (sketches); Extended photos from ImageNet, their owners' terms",
            "Eitz, M., Hays, J. and Alexa, M. How Do Humans Sketch Objects? SIGGRAPH 2012; Zhang, H. et "
            "al. SketchNet, CVPR 2016 (Extended photos).",
            "https://cybertron.cg.tu-berlin.de/eitz/projects/classifysketch/"),
    Dataset("imagenet_weights", "ImageNet-1K weights of torchvision's backbones (full profile)",
            "BSD-3-Clause (torchvision); trained on ImageNet, whose images keep their owners' terms",
            "Russakovsky, O. et al. ImageNet Large Scale Visual Recognition Challenge. IJCV 2015; "
            "TorchVision maintainers, TorchVision: PyTorch's Computer Vision library, 2016.",
            "https://pytorch.org/vision/stable/models.html"),
]}

_D2S_RAW = "https://raw.githubusercontent.com/sounakdey/doodle2search/master/src/data/"
_QMUL_TAR = "http://www.eecs.qmul.ac.uk/~qian/Qian's%20Materials/sbir_cvpr2016.tar"
#: base URL of Google's QuickDraw bucket (tests point it at a local server)
QUICKDRAW_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/"

#: QuickDraw per-class formats: folder in mirror/cache -> (URL folder, file suffix)
QUICKDRAW_FORMATS = {
    "raw": ("full/raw/", ".ndjson"),
    "simplified": ("full/simplified/", ".ndjson"),
    "numpy_bitmap": ("full/numpy_bitmap/", ".npy"),
    "sketchrnn": ("sketchrnn/", ".npz"),
}


def _static_resources() -> list[Resource]:
    res = []
    # QMUL V1: files inside the original release tar; sha256 of the files as published.
    qmul_sums = {
        "shoes_annotation.json": "391ecb273e2f55b8cace9922caae120ba9e93b5a13d9f467961901142410ebd9",
        "shoes_edge_db_test.mat": "34ddbcec5f14e0b358b537a82063a2026156da0f079a8a39e0839ea475369fd3",
        "shoes_edge_db_train.mat": "ca1744d77c1674862e67d2f3fa4b07ff4d4a587017a4096275e977d3c7d73cc4",
        "shoes_sketch_db_test.mat": "5f66f4801287c79600c7272c1072a878046536d1d24555230493f4aec4c2c065",
        "shoes_sketch_db_train.mat": "7e6d238778fed20226b9fa4e93747555862a5f695305e865fa90c65a22469dbe",
        "shoes_train_triplets.mat": "042e83b7098a216ad35abd2ba114cbe7ebc096c2018588f357b12206f08f766a",
    }
    res.append(Resource("qmul_v1/sbir_cvpr2016.tar", "qmul_v1", (_QMUL_TAR,), extract=True,
                        description="original release of 'Sketch Me That Shoe' (code + shoe/chair data)"))
    for category in ("shoes", "chairs"):
        for stem in ("annotation.json", "sketch_db_train.mat", "sketch_db_test.mat", "edge_db_train.mat",
                     "edge_db_test.mat", "train_triplets.mat"):
            fname = f"{category}_{stem}"
            res.append(Resource(f"qmul_{category}_v1/{fname}", "qmul_v1", sha256=qmul_sums.get(fname),
                                archive="qmul_v1/sbir_cvpr2016.tar",
                                description=f"QMUL {category[:-1]} V1 {stem}"))
    # ShoeV2 / ChairV2: Google Drive only.
    for name in ("ShoeV2", "ChairV2"):
        res.append(Resource(f"qmul_v2/{name}", "qmul_v2", manual=(
            f"download {name} from https://sketchx.eecs.qmul.ac.uk/downloads/ (Google Drive), unzip it and "
            f"put the folder (with trainA/ testA/ trainB/ testB/ or sketch/ photo/ and the "
            f"{name}_Coordinate pickle) at"), description=f"QMUL-{name}: SVG sketches, photos, coordinate pickle"))
    # Zero-shot lists and vectors (Doodle-to-Search repository).
    zs = {
        "quick_draw_class_labels.txt": "48d4d89d260430c4e6d8e47fd1e9abe1cadefcbdb70f3baadc44dc3ce88d7d22",
        "zeroshot_classes_quickdraw.txt": "c9ef6f7ec555fa6d1feb272ad45daf432619ebee65df753d8aa6721443af821b",
        "semantic_labels_sketchy.npy": "317766155fb0050fba62e310dac203042ee720e44d5124022d18089aebf4d839",
        "semantic_labels_sketchy_fasttext.npy": "baa98d7572e9a0f67b594e8e248ea28e62186bdb349ea03eab48bc01679d859a",
        "semantic_labels_sketchy_glove.npy": "b703ef191997b7be5e84ca59a0aaa8bd87790348a834902c248f4269ccce6b81",
        "semantic_labels_tuberlin.npy": "056e314f17d98804d21d5c5253b8f71fce010a083f5ee1e8659d04eb23741afc",
    }
    for fname, digest in zs.items():
        res.append(Resource(f"zeroshot/{fname}", "zeroshot", (_D2S_RAW + fname,), sha256=digest))
    derived = {
        "vocab_sketchy.txt": ("d6e5bc4ae64b8147f7ebf0711aaa528ffad3c88eacd38bb76a86d3bf91e08893", "vocab_sketchy.pkl"),
        "vocab_tuberlin.txt": ("5e7bc8cc7bbbc0ffef2f4006cabcc5378fbfab372eb609b9c10e557e7d84dfd2", "vocab_tuberlin.pkl"),
        "zeroshot_classes_sketchy.txt": ("b4251ad75e8a35b5852b6e280c150ca5ad55e832e9bd36553721e17b757e9531", None),
    }
    for fname, (digest, pkl) in derived.items():
        how = (f"the class list of {_D2S_RAW}{pkl} (a pickled list; read it with "
               "sbir_lib.data.safe_pickle.restricted_load), one name per line, written to"
               if pkl else "the 21 unseen Sketchy classes of Yelamarthi et al. (ECCV 2018), one per line, at")
        res.append(Resource(f"zeroshot/{fname}", "zeroshot", sha256=digest, manual=how))
    # QuickDraw-Extended.
    for part in ("QuickDraw_sketches_final.zip", "QuickDraw_images_final.zip"):
        res.append(Resource(f"quickdraw_extended/{part}", "quickdraw_extended",
                            (f"http://datasets.cvc.uab.es/QuickDraw/{part}",), extract=True))
    # TU-Berlin.
    for part in ("sketches_png.zip", "sketches_svg.zip"):
        res.append(Resource(f"tuberlin/{part}", "tuberlin",
                            (f"https://cybertron.cg.tu-berlin.de/eitz/projects/classifysketch/{part}",),
                            extract=True))
    res.append(Resource("tuberlin/ImageResized", "tuberlin", manual=(
        "download the TU-Berlin-Extended photos (Google Drive id 0B2U-hnwRkpRrMFVvTmFQa3dmSUk, see "
        "https://github.com/sounakdey/doodle2search/blob/master/download_datasets.sh), unzip and put the "
        "ImageResized folder at")))
    # Sketchy.
    res.append(Resource("sketchy/256x256", "sketchy", manual=(
        "download rendered_256x256.7z from https://sketchy.eye.gatech.edu/ (Google Drive), extract it "
        "(7z x) and put its 256x256 folder (photo/ and sketch/ trees) at")))
    res.append(Resource("sketchy/EXTEND_image_sketchy", "sketchy", manual=(
        "download the Sketchy-Extended photos (Google Drive id 0B2U-hnwRkpRrdGZKTzkwbkEwVkk, from the "
        "Deep Sketch Hashing release), unzip and put the EXTEND_image_sketchy folder at")))
    return res


_STATIC: dict[str, Resource] = {r.name: r for r in _static_resources()}


def _quickdraw_resource(name: str) -> Resource | None:
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "quickdraw" or parts[1] not in QUICKDRAW_FORMATS:
        return None
    url_dir, suffix = QUICKDRAW_FORMATS[parts[1]]
    if not parts[2].endswith(suffix):
        return None
    cls = parts[2][: -len(suffix)]
    if cls not in QUICKDRAW_CLASSES:
        close = difflib.get_close_matches(cls, QUICKDRAW_CLASSES, n=3)
        raise DataError(f"unknown QuickDraw class {cls!r}" + (f"; did you mean {close}?" if close else ""))
    return Resource(name, "quickdraw", (QUICKDRAW_BASE_URL + url_dir + quote(cls + suffix),),
                    description=f"QuickDraw {parts[1]} drawings of {cls!r}")


def quickdraw_resource_name(cls: str, fmt: str) -> str:
    """Resource name of one QuickDraw class file, e.g. ``quickdraw/raw/The Eiffel Tower.ndjson``."""
    if fmt not in QUICKDRAW_FORMATS:
        raise DataError(f"unknown QuickDraw format {fmt!r}; expected one of {sorted(QUICKDRAW_FORMATS)}")
    return f"quickdraw/{fmt}/{cls}{QUICKDRAW_FORMATS[fmt][1]}"


def get_resource(name: str) -> Resource:
    """The :class:`Resource` called ``name``; :class:`DataError` with suggestions when unknown."""
    if name in _STATIC:
        return _STATIC[name]
    qd = _quickdraw_resource(name)
    if qd is not None:
        return qd
    close = difflib.get_close_matches(name, list(_STATIC), n=3, cutoff=0.5)
    raise DataError(f"unknown dataset resource {name!r}" + (f"; did you mean {close}?" if close else "")
                    + " (python -m sbir_lib.data list shows them all)")


def get_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name]


def list_resources(dataset: str | None = None, *, expand_quickdraw: bool = False) -> list[Resource]:
    """All static resources (optionally of one dataset); QuickDraw per-class files when asked."""
    out = [r for r in _STATIC.values() if dataset in (None, r.dataset)]
    if expand_quickdraw and dataset in (None, "quickdraw"):
        out += [get_resource(quickdraw_resource_name(c, f)) for f in QUICKDRAW_FORMATS for c in QUICKDRAW_CLASSES]
    return out


# ----------------------------------------------------------------------------- lookup

_VERIFIED: set[tuple[str, int, int]] = set()


def _verified(path: Path, expected: str | None, where: str) -> Path:
    """Check ``path`` against ``expected`` once per process (keyed by path, size, mtime)."""
    if expected is None:
        return path
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        actual = sha256_of(path)
        if actual != expected.lower():
            raise DataError(f"{path} ({where}): sha256 mismatch (expected {expected}, got {actual}); "
                            "the file is corrupt or not the published one: delete it and fetch again")
        _VERIFIED.add(key)
    return path


def locate(name: str) -> Path | None:
    """Path of resource ``name`` in a mirror or the cache (verified), or None when absent."""
    res = get_resource(name)
    for root in mirror_dirs():
        for rel in dict.fromkeys((res.target_name, res.name)):
            path = root / rel
            if path.is_file():
                expected = res.sha256 or mirror_checksums(root).get(rel)
                return _verified(path, expected, f"mirror {root}")
            if path.is_dir() and rel == res.target_name:
                return path
    path = cache_dir() / res.target_name
    if path.is_file():
        return _verified(path, res.sha256, "cache")
    if path.is_dir():
        return path
    return None


def _instructions(res: Resource, failures: str = "") -> str:
    dest = cache_dir() / res.target_name
    mirrors = os.environ.get("SBIR_DATA_MIRROR", "")
    where = (f"put it at {dest} (the cache, set by SBIR_DATA), or at <folder>/{res.target_name} in a "
             f"folder listed in SBIR_DATA_MIRROR (now {mirrors!r})")
    if res.archive:
        arch = get_resource(res.archive)
        how = f"download {', '.join(arch.urls) or arch.name}, extract {Path(res.name).name} from it and {where}"
    elif res.manual:
        how = f"{res.manual} {dest} (or at <folder>/{res.target_name} in a folder listed in SBIR_DATA_MIRROR)"
    else:
        how = f"download {' or '.join(res.urls)}" + (" and extract it;" if res.extract else "") + f" {where}"
    msg = f"dataset resource {res.name!r} ({res.info.title}; licence: {res.info.license}) is not available"
    if failures:
        msg += f": {failures}"
    return msg + f".\nTo get it by hand: {how}."


def offline() -> bool:
    """True when ``$SBIR_OFFLINE`` is ``1``/``true``/``yes``: never download, use mirrors and cache only."""
    return os.environ.get("SBIR_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def fetch(name: str, *, download_missing: bool | None = None, progress: bool = True, retries: int = 4,
          backoff: float = 1.0, timeout: float = 60.0) -> Path:
    """Path to resource ``name``: mirror, then cache, then a verified download into the cache.

    Args:
        name: resource name (``python -m sbir_lib.data list``).
        download_missing: False = never touch the network (raise with instructions instead);
            None (default) = download unless :func:`offline` (``SBIR_OFFLINE=1``).
        retries, backoff, timeout: passed to :func:`sbir_lib.data.download.download`.
    Raises:
        DataError: unknown name, checksum mismatch, or not available (the message says what to
            download, from where, and where to put it).
    """
    res = get_resource(name)
    found = locate(name)
    if found is not None:
        return found
    if download_missing is None:
        download_missing = not offline()
    if not download_missing or (res.manual and not res.urls):
        raise DataError(_instructions(res, "" if download_missing else "downloads are disabled (SBIR_OFFLINE=1 or download_missing=False)"))
    dest = cache_dir() / res.name
    try:
        if res.archive:
            return _fetch_from_archive(res, progress=progress, retries=retries, backoff=backoff, timeout=timeout)
        if not res.urls:
            raise DataError(_instructions(res))
        path = download(res.urls, dest, sha256=res.sha256, size=res.size, retries=retries, backoff=backoff,
                        timeout=timeout, progress=progress)
    except DownloadError as exc:
        raise DataError(_instructions(res, str(exc))) from None
    if res.extract:
        try:
            extract_archive(path, cache_dir() / res.target_name)
        finally:
            path.unlink(missing_ok=True)
        return cache_dir() / res.target_name
    return path


def _fetch_from_archive(res: Resource, **kw) -> Path:
    folder = fetch(res.archive, **kw)
    base = Path(res.name).name
    matches = sorted(p for p in folder.rglob(base) if p.is_file())
    if not matches:
        raise DataError(_instructions(res, f"{base} is not inside {folder}"))
    dest = cache_dir() / res.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(matches[0], tmp)
    if res.sha256 is not None and sha256_of(tmp) != res.sha256:
        tmp.unlink()
        raise DataError(f"{matches[0]}: sha256 mismatch with the registry ({res.sha256}); not cached")
    os.replace(tmp, dest)
    return dest


def fetch_dataset(dataset: str, **kw) -> dict[str, Path]:
    """Fetch every static resource of ``dataset`` that has a URL or is already present.

    Manual-only resources that are absent are skipped (use :func:`fetch` on them to see how to get
    them). QuickDraw per-class files are not fetched here (345 x 4 files): use
    :func:`sbir_lib.data.quickdraw.quickdraw_path`.
    """
    get_dataset(dataset)
    out = {}
    for res in list_resources(dataset):
        if res.extract and any(r.archive == res.name for r in _STATIC.values()):
            continue  # archives are fetched through their members
        if res.manual and not res.urls and locate(res.name) is None:
            continue
        out[res.name] = fetch(res.name, **kw)
    return out


def register(resource: Resource, *, overwrite: bool = False) -> Resource:
    """Add a resource to the table (private mirrors, tests); returns it."""
    if resource.dataset not in DATASETS:
        raise DataError(f"resource {resource.name!r}: unknown dataset {resource.dataset!r}")
    if resource.name in _STATIC and not overwrite:
        raise DataError(f"resource {resource.name!r} is already registered (pass overwrite=True)")
    _STATIC[resource.name] = resource
    return resource


def unregister(name: str) -> None:
    """Remove a resource added with :func:`register`."""
    _STATIC.pop(name, None)


def with_urls(res: Resource, urls: tuple[str, ...]) -> Resource:
    """A copy of ``res`` with other URLs (for tests and private mirrors)."""
    return replace(res, urls=tuple(urls))
