"""The weights registry: which third-party files the project knows, where they come from and how to check them.

Nothing downloads at import time or inside a request: the registry only answers "is it installed and intact?".
``chromaseg weights fetch`` fills the weights directory (``chromaseg.core.weights.weights_dir``) from the upstream URLs
or from a local mirror folder. Extra entries (a user's own checkpoint, the tests' random-init models) are read from
``registry.json`` in the weights directory.

Besides SAM and DeepLab, the registry lists the published colorizers (``chromaseg.core.published``): SIGGRAPH17,
whose file name carries its sha256 prefix, and DDColor, whose upstream publishes no hash; a file of either is also
checked against its architecture's upstream layout (every tensor present at its exact shape), which catches a
truncated or wrong download even where no hash is known.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from chromaseg.core.weights import DEEPLAB_FOLDER, weights_dir

EXTRA_REGISTRY = "registry.json"
_DEEPLAB_URL = ("https://raw.githubusercontent.com/intel/openvino-ai-plugins-gimp/"
                "c9fb13e9697891afb044c84b01421010a0e59b5e/weights/semseg-ov/")
_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
_SIGGRAPH17_URL = "https://colorizers.s3.us-east-2.amazonaws.com/"  # richzhang/colorization's siggraph17() loads this
# piddnad/DDColor's MODEL_ZOO links these; the Hugging Face repository's revision could not be pinned offline
_DDCOLOR_URL = "https://huggingface.co/piddnad/DDColor-models/resolve/main/"


@dataclass(frozen=True)
class WeightFile:
    """One file, relative to the weights directory, with every hash upstream publishes for it (any may be unknown)."""

    path: str
    url: str | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None  # SAM's file names carry the first hex digits of the file's sha256
    git_sha1: str | None = None  # the git blob SHA-1 of the file in its upstream repository
    size: int | None = None
    published_arch: str | None = None  # a published colorizer's file: must fit that architecture's upstream layout


@dataclass(frozen=True)
class ModelEntry:
    """A model the project can use: its files, and for SAM the model type and an optional small architecture."""

    name: str
    kind: str  # "sam", "semantic" or "colorizer"
    files: tuple[WeightFile, ...]
    model_type: str | None = None  # SAM: vit_t, vit_b, vit_l, vit_h; colorizer: its published architecture
    arch: dict[str, Any] = field(default_factory=dict)  # overrides of the SAM architecture (tests' tiny models)
    description: str = ""


BUILTIN: tuple[ModelEntry, ...] = (
    ModelEntry("mobilesam", "sam", (WeightFile(
        "mobile_sam.pt",
        url="https://raw.githubusercontent.com/ChaoningZhang/MobileSAM/34bbbfdface3c18e5221aa7de6032d7220c6c6a1/"
            "weights/mobile_sam.pt",
        git_sha1="7ef2d090979fd9853adf17b7a99c8b94a1c5a6a7"),), "vit_t",
        description="MobileSAM (TinyViT encoder), about 39 MB, Apache-2.0"),
    ModelEntry("sam-vit_b", "sam", (WeightFile("sam_vit_b_01ec64.pth", url=_SAM_URL + "sam_vit_b_01ec64.pth",
                                               sha256_prefix="01ec64"),), "vit_b",
               description="Segment Anything ViT-B, about 358 MB, Apache-2.0"),
    ModelEntry("sam-vit_l", "sam", (WeightFile("sam_vit_l_0b3195.pth", url=_SAM_URL + "sam_vit_l_0b3195.pth",
                                               sha256_prefix="0b3195"),), "vit_l",
               description="Segment Anything ViT-L, about 1.2 GB, Apache-2.0"),
    ModelEntry("sam-vit_h", "sam", (WeightFile("sam_vit_h_4b8939.pth", url=_SAM_URL + "sam_vit_h_4b8939.pth",
                                               sha256_prefix="4b8939"),), "vit_h",
               description="Segment Anything ViT-H, about 2.4 GB, Apache-2.0"),
    ModelEntry("deeplabv3-mnv2", "semantic", (
        WeightFile(f"{DEEPLAB_FOLDER}/deeplabv3.bin", url=_DEEPLAB_URL + "deeplabv3.bin", size=4_194_178,
                   sha256="f16308724b3d7ceee04683863880862d7b6e658ca60f772ce1f3e06dcaaf575f"),
        WeightFile(f"{DEEPLAB_FOLDER}/deeplabv3.xml", url=_DEEPLAB_URL + "deeplabv3.xml", size=294_684,
                   sha256="c3ca452dcf791e329efb4aba87339d9a0c06de14c14a7a7fd8153f50aab61f48"),
        WeightFile(f"{DEEPLAB_FOLDER}/deeplabv3.mapping", url=_DEEPLAB_URL + "deeplabv3.mapping", size=181_829,
                   sha256="cf117bd906e71c177e7dff618c0f1cfb56288a23aeca23d1842ca90e09f29322"),
    ), description="DeepLabv3 + MobileNetV2 (PASCAL VOC) OpenVINO IR: the colorizer's semantic encoder, Apache-2.0"),
    ModelEntry("siggraph17", "colorizer", (WeightFile(
        "siggraph17-df00044c.pth", url=_SIGGRAPH17_URL + "siggraph17-df00044c.pth", sha256_prefix="df00044c",
        published_arch="siggraph17"),), "siggraph17",
        description="SIGGRAPH17 interactive colorizer (Zhang et al. 2017, richzhang/colorization), about 137 MB, "
                    "BSD-2-Clause"),
    ModelEntry("ddcolor-tiny", "colorizer", (WeightFile(
        "ddcolor_paper_tiny.pth", url=_DDCOLOR_URL + "ddcolor_paper_tiny.pth", published_arch="ddcolor-tiny"),),
        "ddcolor-tiny", description="DDColor-T (Kang et al. 2023, piddnad/DDColor), ImageNet, about 220 MB, "
                                    "Apache-2.0"),
    ModelEntry("ddcolor-modelscope", "colorizer", (WeightFile(
        "ddcolor_modelscope.pth", url=_DDCOLOR_URL + "ddcolor_modelscope.pth", published_arch="ddcolor-large"),),
        "ddcolor-large", description="DDColor-L, upstream's default (ImageNet, cleaned as BigColor), about 912 MB, "
                                     "Apache-2.0"),
    ModelEntry("ddcolor-artistic", "colorizer", (WeightFile(
        "ddcolor_artistic.pth", url=_DDCOLOR_URL + "ddcolor_artistic.pth", published_arch="ddcolor-large"),),
        "ddcolor-large", description="DDColor-L, ImageNet plus artistic images, about 912 MB, Apache-2.0"),
    ModelEntry("ddcolor-paper", "colorizer", (WeightFile(
        "ddcolor_paper.pth", url=_DDCOLOR_URL + "ddcolor_paper.pth", published_arch="ddcolor-large"),),
        "ddcolor-large", description="DDColor-L as in the paper (ImageNet), about 912 MB, Apache-2.0"),
)


def _entry_from_json(raw: dict[str, Any]) -> ModelEntry:
    files = tuple(WeightFile(**f) for f in raw["files"])
    return ModelEntry(raw["name"], raw["kind"], files, raw.get("model_type"), dict(raw.get("arch", {})),
                      raw.get("description", ""))


def entries(root: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Built-in entries plus those of ``registry.json`` in the weights directory (which win on a name clash)."""
    root = Path(root) if root is not None else weights_dir()
    found = {e.name: e for e in BUILTIN}
    extra = root / EXTRA_REGISTRY
    if extra.is_file():
        for raw in json.loads(extra.read_text())["entries"]:
            entry = _entry_from_json(raw)
            found[entry.name] = entry
    return found


def _digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file in one streaming pass."""
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            sha256.update(chunk)
            sha1.update(chunk)
    return sha256.hexdigest(), sha1.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> problem ("" = ok): hash each file once


def check_file(path: Path, wf: WeightFile) -> str:
    """"" when the file is present and matches every known hash; otherwise what is wrong with it."""
    if not path.is_file():
        return "missing"
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns)
    if memo in _VERIFIED:
        return _VERIFIED[memo]
    problem = ""
    if wf.size is not None and st.st_size != wf.size:
        problem = f"size {st.st_size}, expected {wf.size}"
    else:
        sha256, sha1 = _digests(path)
        if wf.sha256 and sha256 != wf.sha256.lower():
            problem = f"sha256 {sha256}, expected {wf.sha256}"
        elif wf.sha256_prefix and not sha256.startswith(wf.sha256_prefix.lower()):
            problem = f"sha256 {sha256} does not start with {wf.sha256_prefix}"
        elif wf.git_sha1 and sha1 != wf.git_sha1.lower():
            problem = f"git blob sha1 {sha1}, expected {wf.git_sha1}"
        elif wf.published_arch:
            problem = _published_layout_problem(path, wf.published_arch)
    _VERIFIED[memo] = problem
    return problem


def _published_layout_problem(path: Path, arch: str) -> str:
    """"" when the file loads strictly into ``arch``, else the loader's one-line refusal (it names the file)."""
    from chromaseg.core.published.architectures import check_published_file
    from chromaseg.core.published.upstream_format import CheckpointError

    try:
        check_published_file(arch, path)
    except CheckpointError as exc:
        return str(exc)
    return ""


def check(entry: ModelEntry, root: str | os.PathLike | None = None) -> dict[str, str]:
    """Per file of ``entry``: "" when intact, else the problem."""
    root = Path(root) if root is not None else weights_dir()
    return {wf.path: check_file(root / wf.path, wf) for wf in entry.files}


def installed(entry: ModelEntry, root: str | os.PathLike | None = None) -> bool:
    return not any(check(entry, root).values())


def _mirror_candidates(source: Path, wf: WeightFile) -> Iterable[Path]:
    yield source / wf.path
    yield source / Path(wf.path).name


def _download(url: str, dest: Path, progress: bool) -> None:
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.removesuffix(".part"),
                  disable=not progress) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def fetch(entry: ModelEntry, root: str | os.PathLike | None = None, source: str | os.PathLike | None = None,
          progress: bool = True) -> list[str]:
    """Install ``entry``'s missing or damaged files from ``source`` (a mirror folder) or their URLs; returns what was
    installed. A file lands under its final name only after its hashes check out, so a broken download never loads."""
    root = Path(root) if root is not None else weights_dir()
    done = []
    for wf in entry.files:
        dest = root / wf.path
        if not check_file(dest, wf):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        if source is not None:
            origin = next((p for p in _mirror_candidates(Path(source), wf) if p.is_file()), None)
            if origin is None:
                raise FileNotFoundError(f"{wf.path} not in {source}")
            shutil.copyfile(origin, part)
        elif wf.url:
            _download(wf.url, part, progress)
        else:
            raise FileNotFoundError(f"{wf.path}: no URL known and no --from folder given")
        problem = check_file(part, wf)
        if problem:
            part.unlink()
            raise ValueError(f"{wf.path}: {problem}")
        os.replace(part, dest)
        done.append(wf.path)
    return done
