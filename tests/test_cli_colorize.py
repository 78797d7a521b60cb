"""`chromaseg colorize` under careless input: bad files, output folders, name clashes, bit depth, alpha, frames."""
from __future__ import annotations

import errno
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from chromaseg.cli.image_files import write_png
from chromaseg.cli.main import main
from chromaseg.cli.output_names import output_names

H, W = 24, 32


def gradient(channels: int, dtype: type) -> np.ndarray:
    """A smooth image with full use of the dtype's range (16-bit values are not multiples of 257)."""
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0:H, 0:W]
    planes = [(x * top // (W - 1)), (y * top // (H - 1)), ((x + y) * top // (W + H - 2)), (top - x * top // W)]
    return np.dstack(planes[:channels]).astype(dtype).squeeze()


def png16(path: Path, pixels: np.ndarray, color_type: int) -> None:
    """A 16-bit PNG written byte by byte (neither PIL nor OpenCV writes 16-bit gray + alpha)."""
    h, w = pixels.shape[:2]
    rows = b"".join(b"\0" + pixels[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def read(path: Path) -> np.ndarray:
    """A result as stored: OpenCV keeps 16 bits; returned in RGB(A) order."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)


@pytest.fixture
def cli(tiny_colorizer_checkpoint, capsys):
    """Run `chromaseg colorize ARGS` with the tiny checkpoint: (exit status, stdout, stderr lines without progress)."""
    def run(*args: str | Path) -> tuple[int, str, list[str]]:
        status = main(["colorize", *map(str, args), "--model", str(tiny_colorizer_checkpoint)])
        captured = capsys.readouterr()
        lines = [line for line in captured.err.replace("\r", "\n").splitlines()
                 if line.strip() and not line.startswith("colorizing:")]
        return status, captured.out, lines
    return run


def save(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path)
    return path


def test_bad_files_cost_one_line_each_and_the_batch_goes_on(cli, tmp_path) -> None:
    good_png = save(tmp_path / "good.png", gradient(3, np.uint8))
    good_jpg = save(tmp_path / "late.jpg", gradient(1, np.uint8))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good_png.read_bytes()[:-40])
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    no_images = tmp_path / "no-images"
    no_images.mkdir()
    missing = tmp_path / "missing.png"
    bad = [missing, truncated, not_image, empty, no_images]
    out = tmp_path / "out"

    status, stdout, lines = cli(*bad[:3], good_png, *bad[3:], good_jpg, "-o", out)

    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == ["good.png", "late.png"]
    assert not any("Traceback" in line for line in lines)
    assert len(lines) == len(bad)
    for path in bad:
        assert sum(line.startswith(f"{path}: ") for line in lines) == 1
    assert "colorized 2 images" in stdout and "5 failed" in stdout


def test_a_clean_batch_exits_zero(cli, tmp_path) -> None:
    source = save(tmp_path / "a.png", gradient(1, np.uint8))
    status, stdout, lines = cli(source, source, "-o", tmp_path / "out")  # the same file twice is colorized once
    assert (status, lines) == (0, [])
    assert "colorized 1 image into" in stdout and "0 failed" in stdout


def test_multi_frame_images_are_refused_not_reduced_to_one_frame(cli, tmp_path) -> None:
    frames = [Image.fromarray(gradient(3, np.uint8) // k) for k in (1, 2, 3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    single = save(tmp_path / "single.gif", gradient(1, np.uint8))
    out = tmp_path / "out"

    status, _, lines = cli(tmp_path / "anim.gif", tmp_path / "pages.tif", single, "-o", out)

    assert status == 1
    assert [p.name for p in out.iterdir()] == ["single.png"]
    assert len(lines) == 2 and all("3 frames" in line for line in lines)


@pytest.mark.parametrize("kind", ["gray8", "rgb8", "rgba8", "gray-alpha8", "palette-transparent", "gray16", "rgb16",
                                  "rgba16", "gray-alpha16", "rgb16-tiff", "rgba16-tiff"])
def test_bit_depth_and_alpha_are_kept(cli, tmp_path, kind) -> None:
    path = tmp_path / f"{kind}.png"
    if kind == "gray8":
        save(path, source := gradient(1, np.uint8))
    elif kind in ("rgb8", "rgba8"):
        save(path, source := gradient(3 if kind == "rgb8" else 4, np.uint8))
    elif kind == "gray-alpha8":
        source = gradient(2, np.uint8)
        image = Image.fromarray(source[..., 0])
        image.putalpha(Image.fromarray(source[..., 1]))
        image.save(path)
    elif kind == "palette-transparent":
        Image.fromarray(gradient(1, np.uint8) // 16).convert("P").save(path, transparency=0)
        source = np.asarray(Image.open(path).convert("RGBA"))
    elif kind == "gray16":
        save(path, source := gradient(1, np.uint16))
    elif kind in ("rgb16", "rgba16"):
        source = gradient(3 if kind == "rgb16" else 4, np.uint16)
        cv2.imwrite(str(path), cv2.cvtColor(source, cv2.COLOR_RGB2BGR if kind == "rgb16" else cv2.COLOR_RGBA2BGRA))
    elif kind == "gray-alpha16":
        png16(path, source := gradient(2, np.uint16), color_type=4)
    else:
        path = path.with_suffix(".tif")
        source = gradient(3 if kind == "rgb16-tiff" else 4, np.uint16)
        tifffile.imwrite(path, source, photometric="rgb", extrasamples=["unassalpha"] * (source.shape[2] == 4))

    status, _, lines = cli(path, "-o", tmp_path / "out")

    assert (status, lines) == (0, [])
    result = read(tmp_path / "out" / f"{path.stem}.png")
    has_alpha = source.ndim == 3 and source.shape[2] in (2, 4)
    assert result.dtype == source.dtype and result.shape == (H, W, 4 if has_alpha else 3)
    if has_alpha:
        assert np.array_equal(result[..., 3], source[..., -1])
    if source.dtype == np.uint16:  # really 16 bits, not 8 bits scaled up
        assert np.any(result[..., :3] % 257 != 0)


def test_an_output_folder_holding_inputs_is_refused_before_any_work(cli, tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    a = save(src / "a.png", gradient(1, np.uint8))
    save(src / "b.jpg", gradient(1, np.uint8))
    (tmp_path / "link").symlink_to(src)
    before = {p.name: p.read_bytes() for p in src.iterdir()}

    status, stdout, lines = cli(src, "-o", src)
    assert status == 2 and stdout == "" and len(lines) == 1 and "--suffix" in lines[0]
    status, _, lines = cli(a, "-o", tmp_path / "link")  # the same folder under another name
    assert status == 2 and len(lines) == 1
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_a_suffix_allows_the_input_folder_and_never_takes_an_input_name(cli, tmp_path) -> None:
    save(tmp_path / "a.png", gradient(1, np.uint8))
    save(tmp_path / "a_c.png", gradient(3, np.uint8))  # what a.png -> a<suffix>.png would replace
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    status, _, lines = cli(tmp_path, "-o", tmp_path, "--suffix", "_c")

    assert (status, lines) == (0, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_c.png", "a_c_c.png", "a_png_c.png"]
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_a_path_as_suffix_is_refused(cli, tmp_path) -> None:
    status, _, lines = cli(save(tmp_path / "a.png", gradient(1, np.uint8)), "-o", tmp_path / "out",
                           "--suffix", "/../x")
    assert status == 2 and len(lines) == 1 and not (tmp_path / "out").exists()


def test_same_stem_inputs_get_distinct_deterministic_names(cli, tmp_path) -> None:
    save(tmp_path / "a.jpg", gradient(1, np.uint8))
    save(tmp_path / "a.png", 255 - gradient(1, np.uint8))
    (tmp_path / "sub").mkdir()
    save(tmp_path / "sub" / "a.png", gradient(3, np.uint8))
    out = tmp_path / "out"

    status, _, lines = cli(tmp_path / "a.jpg", tmp_path / "a.png", tmp_path / "sub", "-o", out)

    assert (status, lines) == (0, [])
    assert sorted(p.name for p in out.iterdir()) == ["a_jpg.png", "a_png.png", "a_png_2.png"]
    assert not np.array_equal(read(out / "a_jpg.png"), read(out / "a_png.png"))


def test_output_names_rule() -> None:
    paths = [Path(p) for p in ("x/a.jpg", "y/A.PNG", "b.png", "z/b.png", "c.tif")]
    assert output_names(paths) == ["a_jpg.png", "A_png.png", "b_png.png", "b_png_2.png", "c.png"]
    assert output_names(paths, "-color") == ["a_jpg-color.png", "A_png-color.png", "b_png-color.png",
                                             "b_png_2-color.png", "c-color.png"]
    assert output_names([Path("c.tif")], reserved=["C.png"]) == ["c_tif.png"]
    assert output_names(paths) == output_names(paths)


@pytest.mark.parametrize("where", ["under-a-file", "a-file"])
def test_an_unwritable_output_folder_is_refused_before_any_work(cli, tmp_path, monkeypatch, where) -> None:
    import chromaseg.core.colorize

    monkeypatch.setattr(chromaseg.core.colorize, "colorize", lambda *a, **k: pytest.fail("work started"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "out" if where == "under-a-file" else blocker

    status, stdout, lines = cli(save(tmp_path / "a.png", gradient(1, np.uint8)), "-o", out)

    assert status == 2 and stdout == "" and len(lines) == 1 and "output folder" in lines[0]
    assert blocker.read_text() == ""


def test_bad_hints_are_refused_in_one_line(cli, tmp_path) -> None:
    source = save(tmp_path / "a.png", gradient(1, np.uint8))
    status, _, lines = cli(source, "-o", tmp_path / "out", "--hints", tmp_path / "missing.png")
    assert status == 2 and len(lines) == 1 and "--hints" in lines[0]
    hints = save(tmp_path / "small-hints.png", np.zeros((4, 4, 4), np.uint8))
    status, _, lines = cli(source, "-o", tmp_path / "out", "--hints", hints)  # another size: that file fails
    assert status == 1 and len(lines) == 1 and lines[0].startswith(f"{source}: ")


def test_the_hint_layer_in_the_output_folder_is_not_replaced(cli, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    hints = save(out / "hints.png", np.zeros((H, W, 4), np.uint8))
    before = hints.read_bytes()
    status, _, lines = cli(save(tmp_path / "hints.jpg", gradient(1, np.uint8)), "-o", out, "--hints", hints)
    assert (status, lines) == (0, [])
    assert hints.read_bytes() == before and (out / "hints_jpg.png").is_file()


def test_a_failed_write_leaves_the_previous_file_whole_and_no_temporary(tmp_path, monkeypatch) -> None:
    target = tmp_path / "a.png"
    target.write_bytes(b"previous result")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_png(target, gradient(3, np.uint16))
    assert target.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_a_failed_write_is_one_line_and_the_batch_goes_on(cli, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "a.png").mkdir(parents=True)  # a folder where the result should go: that write fails
    status, _, lines = cli(save(tmp_path / "a.png", gradient(1, np.uint8)),
                           save(tmp_path / "b.png", gradient(1, np.uint8)), "-o", out)
    assert status == 1 and len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'a.png'}: cannot write")
    assert (out / "b.png").is_file() and not [p for p in out.iterdir() if p.name.startswith(".")]
