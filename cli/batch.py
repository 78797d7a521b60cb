"""`chromaseg batch IN... -o OUTDIR`: resumable colorization of whole collections, on Ray when it is installed.

The same files, names and manifest with or without Ray: each file gets `chromaseg colorize`'s work (same reading,
same result, written whole), the manifest (:mod:`chromaseg.batch.manifest`) lets a rerun skip what is done, and the
engine (:mod:`chromaseg.batch.pipeline`) runs the files in this process or over the actors of a Ray cluster.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

from chromaseg.batch.manifest import (MANIFEST_NAME, Fingerprint, Manifest, Outcome, content_hash,
                                      settings_json)
from chromaseg.batch.pipeline import ClusterError, Lost, connected, import_ray, in_process, on_ray, worker_count
from chromaseg.cli.colorize import (Job, Refusal, add_job_arguments, collect_inputs, colorize_file, load_model,
                                    plan_outputs, prepare)
from chromaseg.cli.image_files import BadImage, read_image, remove_temporaries

HINTS_SUFFIX = ".hints.png"
DESCRIPTION = f"""\
Colorize whole collections, resumably. Each result is a PNG in OUTDIR with the input's bit depth and alpha, named
as by `chromaseg colorize` (see its --help). A file NAME{HINTS_SUFFIX} beside an image NAME.EXT is that image's hint
layer (RGBA, alpha > 0 = hint), never an input.

OUTDIR keeps a manifest, {MANIFEST_NAME}: a rerun skips every input done with the same options and
unchanged since, and retries those that failed; --force redoes them all. Results are written under a temporary
name, then renamed, so a killed worker or run never leaves half a file. Files that the manifest lists as results
are never inputs.

With Ray (pip install 'chromaseg[cluster]'): a local cluster on all of this machine's cores, or the cluster at
--address, whose machines must see IN, OUTDIR and --model at the same paths; a worker that dies costs only its
files in flight. Without Ray, or with --no-ray, the files are colorized one after another in this process.
"""
EPILOG = """\
exit status: 0 every input done (now or before); 1 some failed (one line each on stderr, then a summary; the
manifest keeps the reasons); 2 nothing done (bad OUTDIR, --suffix or --model; Ray missing or unusable)."""


@dataclass(frozen=True)
class Task:
    """One input of the batch: where to read it, where its result goes, its hint layer."""

    source: str
    target: str
    hints: str | None


@dataclass(frozen=True)
class Colorizer:
    """What a worker loads once and colorizes every file with; pickled to each Ray actor, so paths are absolute."""

    model: str | None
    vibrancy: float | None
    resolution: int | None
    segment_pass: bool
    harmonize: bool
    gpu: bool

    def __call__(self) -> Callable[[Task], Outcome]:
        model = load_model(self.model)
        return partial(colorize_task, Job(None, model.to("cuda") if self.gpu else model, self.vibrancy,
                                          self.resolution, self.segment_pass, self.harmonize))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("batch", help="colorize whole collections, resumably (on Ray when installed)",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_job_arguments(p)
    p.add_argument("--segment-pass", action="store_true",
                   help="re-predict each large segment on its own crop (segments from SAM when installed)")
    p.add_argument("--harmonize", action="store_true", help="harmonize colors within each segment (CCC Algorithm 1)")
    p.add_argument("--force", action="store_true", help="colorize every input again, even those done")
    ray = p.add_argument_group("cluster")
    ray.add_argument("--address", metavar="ADDR",
                     help="the Ray cluster to run on: auto (the one this machine belongs to) or ray://HOST:PORT "
                          "(default: a local cluster started for the job)")
    ray.add_argument("--workers", type=_positive(int), metavar="N",
                     help="Ray actors, each loading the colorizer once (default: one per CPU of the cluster, or per "
                          "--gpus-per-worker GPUs)")
    ray.add_argument("--gpus-per-worker", type=_positive(float), default=0.0, metavar="G",
                     help="GPUs each worker colorizes on (default 0: CPU)")
    ray.add_argument("--no-ray", action="store_true",
                     help="colorize in this process, one file after another, even when Ray is installed")
    p.set_defaults(run=run, hints=None)  # no batch-wide hint layer: each image has its own NAME.hints.png


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
        return value
    return parse


def run(args: argparse.Namespace) -> int:
    """Colorize the batch: 0 when every input is done, 1 when some failed, 2 when refused before any work."""
    out = Path(args.out).resolve()
    inputs, unusable = collect_inputs(args.inputs)
    try:
        use_ray = choose_ray(args)
        refuse_published(args.model)
        prepare(args, out)  # the output folder and the model, checked before any work
        colorizer = Colorizer(str(Path(args.model).resolve()) if args.model else None, args.vibrancy,
                              args.resolution, args.segment_pass, args.harmonize, args.gpus_per_worker > 0)
        model = model_id(args.model)
        settings = settings_json(vibrancy=args.vibrancy, resolution=args.resolution, segment_pass=args.segment_pass,
                                 harmonize=args.harmonize)
        with Manifest(out) as manifest:
            tasks, skipped = plan(inputs, out, args, manifest, model, settings)
            results = _on_ray(tasks, colorizer, args) if use_ray and tasks else in_process(tasks, colorizer)
            done, failed = record(results, len(tasks), manifest, model, settings)
            remove_temporaries(out, manifest.outputs())
    except (Refusal, ClusterError) as exc:
        print(f"chromaseg batch: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:  # a damaged manifest, or a full disk
        print(f"chromaseg batch: the manifest {out / MANIFEST_NAME}: {exc}", file=sys.stderr)
        return 2
    failed += unusable
    print(f"done {done}, skipped {skipped} (done before), failed {failed}; manifest: {out / MANIFEST_NAME}")
    return 1 if failed else 0


def choose_ray(args: argparse.Namespace) -> bool:
    """Whether the job runs on Ray: when it is installed, unless --no-ray; a Refusal when asked for and missing."""
    asked = bool(args.address or args.workers or args.gpus_per_worker)
    if args.no_ray:
        if asked:
            raise Refusal("--no-ray runs in this process: it takes no --address, --workers or --gpus-per-worker")
        return False
    try:
        import_ray()
    except ClusterError as exc:
        if asked:
            raise Refusal(f"{exc} (or leave out --address, --workers and --gpus-per-worker)") from None
        print(f"chromaseg batch: {exc} for a local cluster on all cores; colorizing in this process", file=sys.stderr)
        return False
    return True


def refuse_published(model: str | None) -> None:
    """Published colorizers are for `chromaseg colorize` and the daemon for now: the manifest identifies a colorizer
    by its checkpoint file, and the workers move the project's network to their GPU."""
    from chromaseg.core.published.colorizer import is_published_name

    if is_published_name(model):
        raise Refusal(f"--model {model}: published colorizers are not supported by batch yet; use "
                      f"`chromaseg colorize --model {model}`")


def model_id(model: str | None) -> str:
    """The colorizer's identity in the manifest: its file name and the start of its content hash."""
    from chromaseg.core.colorize import default_model_path

    path = Path(model) if model else default_model_path()
    try:
        return f"{path.name} sha256:{content_hash(path)[1][:16]}"
    except OSError as exc:
        raise Refusal(f"cannot read the colorizer {path}: {exc.strerror or exc}") from None


def hint_layer(image: Path) -> Path | None:
    """The image's own hint layer, NAME.hints.png beside it, when there is one."""
    path = image.with_name(image.stem + HINTS_SUFFIX)
    return path if path.is_file() else None


def is_hint_layer(path: Path) -> bool:
    return path.name.lower().endswith(HINTS_SUFFIX)


def plan(inputs: list[Path], out: Path, args: argparse.Namespace, manifest: Manifest, model: str,
         settings: str) -> tuple[list[Task], int]:
    """This run's tasks (their rows marked pending) and how many inputs are skipped as done. New inputs get output
    names that no earlier row holds, so a name never changes once given and never serves two inputs."""
    taken = manifest.outputs()
    layers = [p for p in inputs if is_hint_layer(p)]
    recorded = {(out / name).resolve() for name in taken}
    kept = [(p, real) for p, real in ((p, p.resolve()) for p in inputs if not is_hint_layer(p)) if real not in recorded]
    inputs, sources = [p for p, _ in kept], [str(real) for _, real in kept]
    hints = [hint_layer(p) for p in inputs]
    new = [i for i, source in enumerate(sources) if manifest.output_of(source) is None]
    names = plan_outputs([inputs[i] for i in new], out, args.suffix, layers + [h for h in hints if h], taken)
    claimed = manifest.claim("suffix", args.suffix)
    if claimed != args.suffix:
        raise Refusal(f"{out} holds results named with --suffix {claimed!r}; give the same suffix or choose another "
                      "-o folder")
    manifest.add([sources[i] for i in new], names)
    tasks, skipped = [], 0
    for path, source, hint in zip(inputs, sources, hints):
        fingerprint = Fingerprint.of(path, hint)
        if not args.force and manifest.is_current(source, fingerprint, model, settings):
            skipped += 1
            continue
        manifest.queue(source, fingerprint)
        tasks.append(Task(source, str(out / manifest.output_of(source)), str(hint) if hint else None))
    manifest.commit()
    return tasks, skipped


def _on_ray(tasks: list[Task], colorizer: Colorizer,
            args: argparse.Namespace) -> Iterator[tuple[Task, Outcome | Lost]]:
    """The tasks' results from the actors of the cluster at --address (or a local one), connected for the job."""
    with connected(args.address):
        workers = worker_count(args.workers, args.gpus_per_worker)
        print(f"chromaseg batch: {workers} Ray worker{'s' * (workers != 1)} on "
              f"{args.address or 'a local cluster'}", file=sys.stderr)
        yield from on_ray(tasks, colorizer, workers, args.gpus_per_worker)


def record(results: Iterator[tuple[Task, Outcome | Lost]], total: int, manifest: Manifest, model: str,
           settings: str) -> tuple[int, int]:
    """Record each result in the manifest as it lands, with a progress bar (throughput, ETA); (done, failed)."""
    from tqdm import tqdm

    done = failed = 0
    with tqdm(total=total, desc="colorizing", unit="img", smoothing=0.05, file=sys.stderr) as bar:
        for task, result in results:
            outcome = Outcome(None, None, str(result)) if isinstance(result, Lost) else result
            manifest.record(task.source, outcome, model, settings)
            if outcome.error:
                failed += 1
                bar.write(f"{task.source}: {outcome.error}", file=sys.stderr)
                bar.set_postfix(failed=failed)
            else:
                done += 1
            bar.update()
    return done, failed


def colorize_task(job: Job, task: Task) -> Outcome:
    """Colorize one input with its hint layer; whatever goes wrong is that file's error, never the job's."""
    source = Path(task.source)
    try:
        hints = read_image(Path(task.hints)) if task.hints else None
        error = colorize_file(source, Path(task.target), replace(job, hints=hints))
    except BadImage as exc:
        error = f"hint layer {task.hints}: {exc}"
    except Exception as exc:  # an unattended batch records any other failure of one file and goes on
        error = f"unexpected error: {type(exc).__name__}: {exc}"
    try:
        size, digest = content_hash(source)
    except OSError:
        size, digest = None, None
    return Outcome(size, digest, error)
