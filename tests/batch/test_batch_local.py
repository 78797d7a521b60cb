"""`chromaseg batch` in this process (--no-ray, or Ray missing): the resume rule, names that never change or clash,
an output folder that holds the inputs, and what the command says when Ray is missing."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from batch_helpers import pixels, read, rows, write

from chromaseg.batch.manifest import MANIFEST_NAME


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        write(folder / f"p{i}.png", pixels(3, np.uint8, i))
    return folder


@pytest.fixture
def no_ray(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as without the extra


def test_without_ray_a_cluster_option_says_how_to_get_it(batch, photos, tmp_path, no_ray) -> None:
    for option in (["--address", "auto"], ["--workers", "2"], ["--gpus-per-worker", "1"]):
        run = batch(photos, "-o", tmp_path / "out", *option)
        assert (run.status, run.out) == (2, "")
        assert run.err == ["chromaseg batch: Ray is not installed: pip install 'chromaseg[cluster]' (or leave out "
                           "--address, --workers and --gpus-per-worker)"]
    assert not (tmp_path / "out").exists()


def test_without_ray_the_job_runs_in_this_process(batch, photos, tmp_path, no_ray) -> None:
    run = batch(photos, "-o", tmp_path / "out")
    assert run.status == 0 and run.summary.startswith("done 3, skipped 0 (done before), failed 0;")
    assert run.err == ["chromaseg batch: Ray is not installed: pip install 'chromaseg[cluster]' for a local cluster "
                       "on all cores; colorizing in this process"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MANIFEST_NAME, "p0.png", "p1.png", "p2.png"]


def test_no_ray_takes_no_cluster_option(batch, photos, tmp_path) -> None:
    run = batch(photos, "-o", tmp_path / "out", "--no-ray", "--workers", "2")
    assert run.status == 2
    assert run.err == ["chromaseg batch: --no-ray runs in this process: it takes no --address, --workers or "
                       "--gpus-per-worker"]


def test_a_rerun_redoes_only_what_changed(batch, photos, tmp_path) -> None:
    out = tmp_path / "out"
    assert batch(photos, "-o", out, "--no-ray").summary.startswith("done 3, skipped 0")
    first = rows(out, photos)
    os.utime(photos / "p0.png")  # touched, same bytes: the content hash says it is unchanged
    write(photos / "p1.png", pixels(3, np.uint8, 10))  # new content
    (out / "p2.png").unlink()  # its result was deleted
    assert batch(photos, "-o", out, "--no-ray").summary.startswith("done 2, skipped 1")
    second = rows(out, photos)
    assert second["p0.png"]["updated"] == first["p0.png"]["updated"]
    assert second["p1.png"]["sha256"] != first["p1.png"]["sha256"] and (out / "p2.png").is_file()

    assert batch(photos, "-o", out, "--no-ray", "--vibrancy", "0.3").summary.startswith("done 3, skipped 0")
    assert batch(photos, "-o", out, "--no-ray", "--vibrancy", "0.3").summary.startswith("done 0, skipped 3")
    hints = np.zeros((*pixels(1, np.uint8, 0).shape, 4), np.uint8)
    hints[2:5, 2:5] = (0, 0, 255, 255)
    write(photos / "p0.hints.png", hints)  # a hint layer appears: p0 is redone, and the layer is no input
    assert batch(photos, "-o", out, "--no-ray", "--vibrancy", "0.3").summary.startswith("done 1, skipped 2")
    assert sorted(rows(out, photos)) == ["p0.png", "p1.png", "p2.png"]


def test_names_once_given_never_change_nor_clash(batch, tmp_path) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    write(photos / "a.jpg", pixels(3, np.uint8, 0))
    batch(photos, "-o", out, "--no-ray")
    write(photos / "a.png", pixels(3, np.uint16, 1))  # would take a.png's natural name a.png: it is a.jpg's
    assert batch(photos, "-o", out, "--no-ray").summary.startswith("done 1, skipped 1")
    manifest = rows(out, photos)
    assert (manifest["a.jpg"]["output"], manifest["a.png"]["output"]) == ("a.png", "a_png.png")
    assert read(out / "a.png").dtype == np.uint8 and read(out / "a_png.png").dtype == np.uint16


def test_an_output_folder_holding_the_inputs_never_loses_one(batch, photos) -> None:
    originals = {p.name: p.read_bytes() for p in photos.iterdir()}
    refused = batch(photos, "-o", photos, "--no-ray")
    assert refused.status == 2 and "holds input images" in refused.err[0] and "--suffix" in refused.err[0]
    assert batch(photos, "-o", photos, "--no-ray", "--suffix=-color").summary.startswith("done 3, skipped 0")
    assert batch(photos, "-o", photos, "--no-ray", "--suffix=-color").summary.startswith("done 0, skipped 3")
    assert {p.name: p.read_bytes() for p in photos.glob("p?.png")} == originals  # results were never inputs either
    assert sorted(p.name for p in photos.glob("*-color.png")) == ["p0-color.png", "p1-color.png", "p2-color.png"]
    other = batch(photos, "-o", photos, "--no-ray", "--suffix=-c")
    assert other.status == 2 and other.err == [f"chromaseg batch: {photos.resolve()} holds results named with "
                                               "--suffix '-color'; give the same suffix or choose another -o folder"]


def test_a_damaged_manifest_is_named(batch, photos, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("not a database")
    run = batch(photos, "-o", out, "--no-ray")
    assert run.status == 2
    assert run.err == [f"chromaseg batch: the manifest {out / MANIFEST_NAME}: file is not a database"]


def test_pipeline_switches_reach_the_colorizer_and_the_manifest(batch, photos, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHROMASEG_WEIGHTS", str(tmp_path / "no-weights"))  # hermetic: the fallback segmenter
    out = tmp_path / "out"
    assert batch(photos, "-o", out, "--no-ray", "--harmonize", "--segment-pass").status == 0
    assert {row["settings"] for row in rows(out, photos).values()} == {
        '{"harmonize": true, "resolution": null, "segment_pass": true, "vibrancy": null}'}
    assert batch(photos, "-o", out, "--no-ray").summary.startswith("done 3, skipped 0")
