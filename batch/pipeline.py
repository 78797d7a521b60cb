"""Run one worker over many tasks, in this process or on a Ray cluster, yielding each result as soon as it lands.

On Ray: a fixed pool of Ray core actors, each of which builds its worker once (the colorizer is loaded once per
actor, on the actor's GPU when it has one), and a driver that gives each actor its next task as soon as its result
lands. Why this shape:

- Bounded memory whatever the collection's size: a task is a few paths; each actor reads and writes its own files
  (on a shared file system when the cluster has several machines), so pixels never travel through the driver or the
  object store, and exactly one file per actor is in flight.
- A killed worker (or a lost node) costs only the file it was on: Ray restarts the actor (``max_restarts=-1``, the
  model is loaded again) and runs that file again on it (``max_task_retries``). A task whose actor died ``attempts``
  times under it is reported as :class:`Lost`, so a file that kills every worker it meets (a decoder crash) fails
  alone instead of stopping the job. With a second task queued per actor, that task would die with the culprit every
  time and fail with it; the driver's round trip it would save is a millisecond or so beside a photo's colorization.
- The driver sees every result as it lands, so the manifest follows the job instead of being written at its end.

Ray Data's ``map_batches`` over an actor pool streams the same way, but retries a task whose actor died without
limit (``max_task_retries=-1``: a crashing file would never let the job end), needs pyarrow, and its streaming
executor spends start-up time and a share of the CPUs on blocks and operators that a list of paths does not need.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = "pip install 'chromaseg[cluster]'"
LOCAL_OBJECT_STORE_BYTES = 128 * 2**20  # results are a few hundred bytes: the default (30 % of memory) is not needed


class ClusterError(Exception):
    """The cluster cannot run the job (Ray missing, unreachable, too small, workers that cannot start): one line."""


@dataclass(frozen=True)
class Lost:
    """A task whose worker process died ``attempts`` times while on it."""

    attempts: int

    def __str__(self) -> str:
        return f"the worker process died {self.attempts} times while on this file (a crash, or a lost node)"


def import_ray() -> Any:
    """The ray module, or ClusterError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"Ray is not installed: {INSTALL_HINT}") from None
    return ray


def in_process(tasks: Iterable[T], make_worker: Callable[[], Callable[[T], R]]) -> Iterator[tuple[T, R]]:
    """The plain loop: one worker, built once, in this process."""
    work = make_worker()
    for task in tasks:
        yield task, work(task)


@contextmanager
def connected(address: str | None) -> Iterator[None]:
    """Ray connected: to the cluster at ``address`` (``auto``, ``ray://HOST:PORT``), else to a local one started
    here on all of this machine's cores (and stopped on exit). An existing connection of this process is reused."""
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"address": address} if address else {
        "include_dashboard": False, "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
    try:
        ray.init(log_to_driver=False, logging_level=logging.WARNING, **options)
    except Exception as exc:  # ray.init reports an unreachable or refused cluster with many exception types
        where = f"reach the Ray cluster at {address}" if address else "start a local Ray cluster"
        raise ClusterError(f"cannot {where}: {_cause(exc)}") from None
    try:
        yield
    finally:
        ray.shutdown()


def worker_count(requested: int | None, gpus_per_worker: float) -> int:
    """``requested`` workers, or as many as the cluster holds (one CPU each, and ``gpus_per_worker`` GPUs)."""
    resources = import_ray().cluster_resources()
    cpus, gpus = int(resources.get("CPU", 0)), resources.get("GPU", 0.0)
    room = min(cpus, int(gpus // gpus_per_worker)) if gpus_per_worker else cpus
    if room < 1:
        raise ClusterError(f"the Ray cluster has {cpus} CPUs and {gpus:g} GPUs: no room for one worker with "
                           f"1 CPU and {gpus_per_worker:g} GPUs")
    if requested and requested > room:
        raise ClusterError(f"--workers {requested}: the Ray cluster has room for {room} (it has {cpus} CPUs and "
                           f"{gpus:g} GPUs; each worker takes 1 CPU and {gpus_per_worker:g} GPUs)")
    return requested or room


class _Actor:
    """The body of one Ray actor: its worker is built once, then runs task after task."""

    def __init__(self, make_worker: Callable[[], Callable[[T], R]]) -> None:
        self._work = make_worker()

    def run(self, task: T) -> R:
        return self._work(task)


def on_ray(tasks: Iterable[T], make_worker: Callable[[], Callable[[T], R]], workers: int, gpus_per_worker: float = 0,
           attempts: int = 3) -> Iterator[tuple[T, R | Lost]]:
    """Each task's result (or :class:`Lost`), in the order they land, from ``workers`` actors of the connected
    cluster (see the module's docstring). ``make_worker`` must pickle; it runs once per actor (and per restart)."""
    ray = import_ray()
    # Ray itself runs the task of a dead actor again on its restarted self, at most attempts - 1 times.
    actor = ray.remote(_Actor).options(num_cpus=1, num_gpus=gpus_per_worker, max_restarts=-1,
                                       max_task_retries=attempts - 1)
    pool = [actor.remote(make_worker) for _ in range(workers)]
    queue = iter(tasks)
    running: dict[Any, tuple[Any, T]] = {}  # object ref -> (actor, task): one per actor

    def submit(a: Any) -> None:
        for task in islice(queue, 1):
            running[a.run.remote(task)] = (a, task)

    try:
        for a in pool:
            submit(a)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            a, task = running.pop(ref)
            submit(a)
            try:
                result: R | Lost = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                if exc.actor_init_failed:
                    raise ClusterError(f"a worker cannot start: {_cause(exc)}") from None
                result = Lost(attempts)
            yield task, result
    finally:
        for a in pool:
            ray.kill(a)


def _cause(exc: BaseException) -> str:
    """The last line of Ray's message (its traceback's conclusion), or the exception's type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
