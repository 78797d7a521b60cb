"""`chromaseg colorize IN... -o OUTDIR`: batch colorization of photos or folders of photos (e.g. old scans).

A batch is meant to run unattended over files of any quality: a bad file costs one line and the batch goes on; the
originals are never replaced; what is written is whole and keeps the input's bit depth and alpha.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from chromaseg.cli import arguments
from chromaseg.cli.image_files import BadImage, ensure_writable_folder, read_image, write_png
from chromaseg.cli.output_names import files_in_folder, output_names

if TYPE_CHECKING:
    import torch

    from chromaseg.core.colorize import Colorizer

DESCRIPTION = """\
Colorize images; each result is a PNG in OUTDIR with the input's bit depth (8 or 16 bits per channel) and alpha.

Output names: <stem><SUFFIX>.png. When several inputs would get one name (a.jpg and a.png), or it is the name of an
input in OUTDIR, the extension is added (a_jpg.png, a_png.png), then a counter (a_png_2.png) if still taken; inputs
are taken in the order given, folders sorted. Existing files in OUTDIR that are not inputs are replaced.

OUTDIR may not hold any of the inputs unless --suffix is given. Animated and multi-page images are refused.
"""
EPILOG = """\
exit status: 0 every image colorized; 1 some files failed (one line each on stderr, then a summary); 2 nothing done
(bad OUTDIR, --suffix, --hints, --model or --arch)."""
MODEL_HELP = ("colorizer: a checkpoint of the project's model (default: the shipped weights), a published colorizer's "
              "registry name (siggraph17, ddcolor-tiny, ddcolor-modelscope, ...: `chromaseg weights fetch NAME` "
              "installs it), or with --arch a file in that architecture's upstream layout")
ARCH_HELP = ("the published architecture of the --model file (siggraph17, ddcolor-tiny, ddcolor-large); published "
             "colorizers ignore --vibrancy")


class Refusal(Exception):
    """A reason to stop before any work: the one line the command prints."""


@dataclass(frozen=True)
class Job:
    """What every file of the batch is colorized with."""

    hints: np.ndarray | None
    model: torch.nn.Module | Colorizer
    vibrancy: float | None
    resolution: int | None
    segment_pass: bool = False  # the pipeline's later stages (set by `chromaseg batch`)
    harmonize: bool = False


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("colorize", help="colorize images or folders of images", description=DESCRIPTION,
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_job_arguments(p, model_help=MODEL_HELP)
    p.add_argument("--arch", default=None, help=ARCH_HELP)
    p.add_argument("--hints", metavar="HINTLAYER.png",
                   help="RGBA hint layer (alpha > 0 = hint) of the same size as every input")
    p.set_defaults(run=run)


def add_job_arguments(p: argparse.ArgumentParser,
                      model_help: str = "colorizer checkpoint (default: the shipped weights)") -> None:
    """The inputs, the output folder and the colorizer's options, shared with `chromaseg batch`."""
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="folder for the results (created if missing)")
    p.add_argument("--suffix", default="", metavar="TEXT",
                   help="added to every output name (a.jpg -> a<TEXT>.png); required when OUTDIR holds inputs "
                        "(write --suffix=-TEXT for one that starts with a dash)")
    p.add_argument("--vibrancy", type=arguments.vibrancy, default=None, metavar="V",
                   help="0..1, higher = bolder colors: the share of the colorizer's class rebalancing kept "
                        "(default: the model's measured one)")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--resolution", type=int, default=None,
                   help="long side the network sees (default: the one the model was trained for)")


def run(args: argparse.Namespace) -> int:
    """Colorize the batch: 0 when every image was written, 1 when some files failed, 2 when refused before any work."""
    from tqdm import tqdm

    out = Path(args.out)
    inputs, failed = collect_inputs(args.inputs)
    try:
        names = plan_outputs(inputs, out, args.suffix, [Path(args.hints)] if args.hints else [])
        job = prepare(args, out)
    except Refusal as exc:
        print(f"chromaseg colorize: {exc}", file=sys.stderr)
        return 2
    done = 0
    for path, name in tqdm(list(zip(inputs, names)), desc="colorizing", unit="img"):
        problem = colorize_file(path, out / name, job)
        if problem:
            tqdm.write(f"{path}: {problem}", file=sys.stderr)
            failed += 1
        else:
            done += 1
    print(f"colorized {done} image{'s' * (done != 1)} into {out}; {failed} failed")
    return 1 if failed else 0


def collect_inputs(items: Sequence[str]) -> tuple[list[Path], int]:
    """The image files named or found under the folders named (each once), and how many arguments were unusable
    (reported here, one line each)."""
    paths: dict[Path, Path] = {}
    unusable = 0
    for item in map(Path, items):
        try:
            found = _expand(item)
        except OSError as exc:
            print(f"{item}: {exc.strerror or exc}", file=sys.stderr)
            unusable += 1
            continue
        for path in found:
            paths.setdefault(path.resolve(), path)
    return list(paths.values()), unusable


def _expand(item: Path) -> list[Path]:
    """The image files one argument names; OSError with the reason when it names none."""
    from chromaseg.core.classes import list_images

    if item.is_dir():
        return list_images(item)
    if item.is_file():
        return [item]
    raise FileNotFoundError("not a regular file" if item.exists() else "no such file or folder")


def plan_outputs(inputs: list[Path], out: Path, suffix: str, protect: Sequence[Path] = (),
                 reserved: Iterable[str] = ()) -> list[str]:
    """Output names for ``inputs``; refuses an OUTDIR holding inputs unless a suffix sets the results apart. No name
    replaces a file of ``protect`` (e.g. a hint layer) or is one of the names ``reserved`` (e.g. by an earlier run)."""
    if os.sep in suffix or (os.altsep and os.altsep in suffix) or "\0" in suffix:
        raise Refusal(f"--suffix {suffix!r}: must be part of a file name, not a path")
    held = files_in_folder(out, inputs)
    if held and not suffix:
        raise Refusal(f"{out} holds input images ({', '.join(p.name for p in held[:3])}{', ...' * (len(held) > 3)}); "
                      "choose another -o folder or give --suffix so results cannot replace originals")
    protected = held + files_in_folder(out, protect)
    return output_names(inputs, suffix, [*(p.name for p in protected), *reserved])


def prepare(args: argparse.Namespace, out: Path) -> Job:
    """Everything checked before the first image: the hint layer, the output folder, the model."""
    hints = None
    if args.hints:
        try:
            hints = read_image(Path(args.hints))
        except BadImage as exc:
            raise Refusal(f"--hints {args.hints}: {exc}") from None
        if hints.ndim != 3 or hints.shape[2] != 4:
            raise Refusal(f"--hints {args.hints}: a hint layer must be RGBA")
    try:
        ensure_writable_folder(out)
    except OSError as exc:
        reason = "it is not a folder" if out.exists() and not out.is_dir() else exc.strerror or exc
        raise Refusal(f"cannot write to the output folder {out}: {reason}") from None
    return Job(hints, load_model(args.model, getattr(args, "arch", None)), args.vibrancy, args.resolution)


def load_model(model: str | None, arch: str | None = None) -> torch.nn.Module | Colorizer:
    """The colorizer: the project's network from a checkpoint (default: the shipped one), or a published colorizer
    by registry name or, with ``arch``, from a file; a Refusal naming what cannot be loaded, and how to install a
    published colorizer's missing weights."""
    from chromaseg.core.colorize import get_model
    from chromaseg.core.published.colorizer import colorizer_names, is_published_name, load_colorizer

    if arch is not None and model is None:
        raise Refusal(f"--arch {arch} needs --model PATH, the file in that architecture's layout")
    if arch is not None or is_published_name(model):
        try:
            return load_colorizer(model, arch)
        except Exception as exc:  # unknown name or architecture, missing or damaged file: the loader's one line
            raise Refusal(f"cannot load the colorizer {model}: {exc}") from None
    if model is not None and not Path(model).exists():
        raise Refusal(f"--model {model}: no such checkpoint file, nor a published colorizer's name "
                      f"({', '.join(colorizer_names())})")
    try:
        return get_model(model)
    except Exception as exc:  # torch.load and unpickling report a bad checkpoint with many exception types
        raise Refusal(f"cannot load the colorizer {model or '(shipped weights)'}: {exc}") from None


def colorize_file(path: Path, target: Path, job: Job) -> str | None:
    """Colorize one file into ``target``; None when written, otherwise the one-line reason it was skipped."""
    from chromaseg.core.colorize import colorize

    try:
        result = colorize(read_image(path), hints=job.hints, vibrancy=job.vibrancy, model=job.model,
                          resolution=job.resolution, segment_pass=job.segment_pass, harmonize=job.harmonize)
    except BadImage as exc:
        return str(exc)
    except ValueError as exc:  # e.g. a hint layer of another size
        return f"cannot colorize: {exc}"
    except MemoryError:
        return "too large to colorize in the available memory"
    try:
        write_png(target, result)
    except OSError as exc:
        return f"cannot write {target}: {exc.strerror or exc}"
    return None
