"""`chromaseg batch` on a local Ray cluster of 2 CPUs, started once for the module: a mixed collection, resume,
--force, the same results without Ray, a worker killed mid-run, a file that kills every worker, a worker that
cannot start."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import ray  # the cluster extra, installed by `make setup`
from batch_helpers import read, rows

from chromaseg.batch import pipeline
from chromaseg.cli import batch as batch_cli


@pytest.fixture(scope="module", autouse=True)
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=pipeline.LOCAL_OBJECT_STORE_BYTES,
             log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def test_collection_is_colorized_resumed_and_forced(batch, collection, tmp_path) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    first = batch(photos, "-o", out)
    assert first.status == 1
    assert first.summary.startswith("done 19, skipped 0 (done before), failed 1;")
    assert any(line.startswith(f"{photos.resolve() / 'broken.png'}: corrupt") for line in first.err), first.err
    manifest = rows(out, photos)
    assert sorted(manifest) == sorted([*collection, "broken.png"])  # the hint layer is not an input
    assert manifest["broken.png"]["status"] == "failed" and "corrupt" in manifest["broken.png"]["error"]
    outputs = {name: row["output"] for name, row in manifest.items()}
    assert outputs["a.jpg"] == "a_jpg.png" and outputs["a.png"] == "a_png.png"
    assert outputs["sub/p00.png"] == "p00.png"
    for name, (dtype, channels) in collection.items():
        row = manifest[name]
        assert (row["status"], row["error"], row["size"]) == ("done", None, (photos / name).stat().st_size)
        assert len(row["sha256"]) == 64 and row["model"].startswith("tiny.pt sha256:")
        result = read(out / row["output"])
        assert (result.dtype.name, result.shape) == (dtype, (20, 28, channels)), name
    assert {p.name for p in out.iterdir()} == {row["output"] for row in manifest.values()
                                               if row["status"] == "done"} | {"chromaseg-batch.sqlite"}
    hinted = read(out / "p01.png")[5:9, 5:9].astype(int)  # OpenCV's order: B, G, R
    assert (hinted[..., 2] - hinted[..., 1]).mean() > 20  # p01.hints.png paints that square red

    again = batch(photos, "-o", out)
    assert again.status == 1 and again.summary.startswith("done 0, skipped 19 (done before), failed 1;")
    retried = rows(out, photos)
    assert retried["broken.png"]["updated"] > manifest["broken.png"]["updated"]
    assert all(retried[name]["updated"] == manifest[name]["updated"] for name in collection)

    forced = batch(photos, "-o", out, "--force")
    assert forced.summary.startswith("done 19, skipped 0 (done before), failed 1;")
    redone = rows(out, photos)
    assert all(redone[name]["updated"] > manifest[name]["updated"] for name in collection)

    local = batch(photos, "-o", tmp_path / "out-no-ray", "--no-ray")
    assert local.summary.startswith("done 19, skipped 0 (done before), failed 1;")
    without_ray = rows(tmp_path / "out-no-ray", photos)
    assert ({k: {**r, "updated": 0} for k, r in without_ray.items()}
            == {k: {**r, "updated": 0} for k, r in redone.items()})
    for row in redone.values():
        if row["status"] == "done":
            np.testing.assert_array_equal(read(tmp_path / "out-no-ray" / row["output"]), read(out / row["output"]))


def test_a_killed_worker_costs_only_the_file_it_was_on(batch, collection, tmp_path, monkeypatch) -> None:
    photos, out, killed = tmp_path / "photos", tmp_path / "out", tmp_path / "killed"

    class KilledOnce(batch_cli.Colorizer):
        """Its actor is killed (SIGKILL) the first time it writes p07's result: after the temporary file, before
        the rename."""

        def __call__(self):
            work = super().__call__()

            def colorize(task):
                if task.source.endswith("p07.png") and not killed.exists():
                    killed.touch()
                    os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
                return work(task)
            return colorize

    monkeypatch.setattr(batch_cli, "Colorizer", KilledOnce)
    run = batch(photos, "-o", out)
    assert killed.exists()
    assert run.summary.startswith("done 19, skipped 0 (done before), failed 1;"), (run.out, run.err)
    manifest = rows(out, photos)
    assert all(manifest[name]["status"] == "done" for name in collection)
    assert {p.name for p in out.iterdir()} == {row["output"] for name, row in manifest.items()
                                               if name in collection} | {"chromaseg-batch.sqlite"}  # no temporaries
    for row in manifest.values():
        if row["status"] == "done":
            assert read(out / row["output"]).shape[:2] == (20, 28)  # whole


def test_a_file_that_kills_every_worker_fails_alone() -> None:
    def make_worker():
        def work(task: str) -> str:
            if task == "poison":
                os.kill(os.getpid(), signal.SIGKILL)
            return task.upper()
        return work

    results = dict(pipeline.on_ray(["a", "poison", "b", "c"], make_worker, workers=2, attempts=2))
    assert {k: v for k, v in results.items() if k != "poison"} == {"a": "A", "b": "B", "c": "C"}
    assert results["poison"] == pipeline.Lost(2)


def test_a_worker_that_cannot_start_stops_the_job_with_its_reason() -> None:
    def make_worker():
        raise ValueError("cannot load the colorizer /x.pt: no such file")

    with pytest.raises(pipeline.ClusterError, match="a worker cannot start: .*cannot load the colorizer /x.pt"):
        list(pipeline.on_ray(["a"], make_worker, workers=1))


def test_more_workers_than_the_cluster_holds_are_refused(batch, collection, tmp_path) -> None:
    run = batch(tmp_path / "photos", "-o", tmp_path / "out", "--workers", "3")
    assert run.status == 2
    assert run.err == ["chromaseg batch: --workers 3: the Ray cluster has room for 2 (it has 2 CPUs and 0 GPUs; each "
                       "worker takes 1 CPU and 0 GPUs)"]
