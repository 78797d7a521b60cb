"""Output names for a batch: deterministic, distinct from each other and from the inputs they could replace.

The rule (also in ``chromaseg colorize --help``): ``<stem><suffix>.png``; when several inputs of the batch would get
that name, or it is the name of an input in the output folder, the input's extension is added
(``a.jpg`` -> ``a_jpg.png``, ``a.png`` -> ``a_png.png``), then a counter (``a_png_2.png``) if still taken. Names
are compared ignoring case (for case-insensitive file systems) and given in the batch's input order.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence


def files_in_folder(folder: Path, paths: Iterable[Path]) -> list[Path]:
    """The ``paths`` that sit directly in ``folder`` (same directory, however it is spelled or linked)."""
    if not folder.is_dir():
        return []
    return [p for p in paths if p.parent.is_dir() and os.path.samefile(p.parent, folder)]


def output_names(inputs: Sequence[Path], suffix: str = "", reserved: Iterable[str] = ()) -> list[str]:
    """One PNG file name per input, in order; none equal to another nor to a ``reserved`` name."""
    natural = [f"{p.stem}{suffix}.png" for p in inputs]
    shared = Counter(name.casefold() for name in natural)
    taken = {name.casefold() for name in reserved}
    names = [name if shared[name.casefold()] == 1 and name.casefold() not in taken else None for name in natural]
    taken.update(name.casefold() for name in names if name)
    for i, path in enumerate(inputs):
        if names[i] is None:
            names[i] = _free_name(path, suffix, taken)
            taken.add(names[i].casefold())
    return names


def _free_name(path: Path, suffix: str, taken: set[str]) -> str:
    """``<stem>_<ext><suffix>.png``, or with the first counter from 2 that makes it free."""
    base = f"{path.stem}_{path.suffix[1:].lower()}" if path.suffix else path.stem
    name, count = f"{base}{suffix}.png", 1
    while name.casefold() in taken:
        count += 1
        name = f"{base}_{count}{suffix}.png"
    return name
