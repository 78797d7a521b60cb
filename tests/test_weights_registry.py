"""`chromaseg weights`: fetch from a mirror folder with hash checks, verify, and the colorizer's DeepLab files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chromaseg.cli.main import main
from chromaseg.core.segment import registry
from chromaseg.core.weights import deeplab_ir


def test_fetch_deeplab_from_mirror(shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["weights", "fetch", "deeplabv3-mnv2", "--from", str(shared_dir / "models"),
                 "--dir", str(tmp_path), "--quiet"]) == 0
    assert deeplab_ir(tmp_path) is not None  # where the colorizer looks for it
    assert main(["weights", "verify", "deeplabv3-mnv2", "--dir", str(tmp_path)]) == 0
    assert "already installed" in (main(["weights", "fetch", "deeplabv3-mnv2", "--from", str(shared_dir / "models"),
                                         "--dir", str(tmp_path)]) == 0 and capsys.readouterr().out)


def test_fetch_rejects_bad_hash(tmp_path: Path) -> None:
    mirror, root = tmp_path / "mirror", tmp_path / "weights"
    mirror.mkdir()
    root.mkdir()
    (mirror / "x.pt").write_bytes(b"not the weights")
    (root / registry.EXTRA_REGISTRY).write_text(json.dumps({"entries": [
        {"name": "x", "kind": "sam", "model_type": "vit_b", "files": [{"path": "x.pt", "sha256": "0" * 64}]}]}))
    assert main(["weights", "fetch", "x", "--from", str(mirror), "--dir", str(root)]) == 1
    assert not (root / "x.pt").exists() and not (root / "x.pt.part").exists()


def test_verify_reports_damage_and_git_sha1(tmp_path: Path) -> None:
    data = b"hello"
    (tmp_path / "mobile_sam.pt").write_bytes(data)
    assert registry.check(registry.entries(tmp_path)["mobilesam"], tmp_path)["mobile_sam.pt"].startswith(
        "git blob sha1")
    wf = registry.WeightFile("h.bin", git_sha1="b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0")  # `git hash-object`
    (tmp_path / "h.bin").write_bytes(data)
    assert registry.check_file(tmp_path / "h.bin", wf) == ""
    assert main(["weights", "verify", "mobilesam", "--dir", str(tmp_path)]) == 1
    assert main(["weights", "list", "--dir", str(tmp_path)]) == 0


def test_unknown_entry(tmp_path: Path) -> None:
    assert main(["weights", "fetch", "nope", "--dir", str(tmp_path)]) == 2


def test_published_colorizer_entries() -> None:
    from chromaseg.core.published.architectures import ARCHITECTURES

    known = registry.entries()
    colorizers = {name: e for name, e in known.items() if e.kind == "colorizer"}
    assert {"siggraph17", "ddcolor-tiny", "ddcolor-modelscope", "ddcolor-artistic", "ddcolor-paper"} <= set(colorizers)
    for entry in colorizers.values():
        assert entry.model_type in ARCHITECTURES
        assert all(wf.url and wf.url.startswith("https://") and wf.published_arch == entry.model_type
                   for wf in entry.files)
        assert entry.description.endswith(("BSD-2-Clause", "Apache-2.0"))
    (siggraph17_file,) = known["siggraph17"].files
    assert siggraph17_file.path == "siggraph17-df00044c.pth" and siggraph17_file.sha256_prefix == "df00044c"


def test_fetch_refuses_a_corrupt_colorizer_download(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """DDColor publishes no hash: the strict layout check is what stops a broken file from landing."""
    mirror, root = tmp_path / "mirror", tmp_path / "weights"
    mirror.mkdir()
    (mirror / "ddcolor_paper_tiny.pth").write_bytes(b"<html>rate limited</html>")
    assert main(["weights", "fetch", "ddcolor-tiny", "--from", str(mirror), "--dir", str(root), "--quiet"]) == 1
    assert "not a readable PyTorch weights file (truncated or corrupt?)" in capsys.readouterr().out
    assert not (root / "ddcolor_paper_tiny.pth").exists() and not (root / "ddcolor_paper_tiny.pth.part").exists()
    (root / "ddcolor_paper_tiny.pth").write_bytes(b"\0" * 64)
    assert main(["weights", "verify", "ddcolor-tiny", "--dir", str(root)]) == 1
    assert "ddcolor_paper_tiny.pth: " in capsys.readouterr().out
