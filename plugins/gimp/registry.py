"""What gimpfu's `register()` records: one `Procedure` per plug-in action, read by whichever backend runs them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from chromaseg.plugins.gimp.params import Param, parse_params


@dataclass(frozen=True)
class Procedure:
    """An image procedure: `function(image, drawable, *values)` in the order of `params`."""

    name: str
    blurb: str
    help: str
    author: str
    copyright: str
    date: str
    label: str
    imagetypes: str
    params: tuple[Param, ...]
    function: Callable[..., Any]
    menu: str

    def values(self, given: dict[str, Any]) -> list[Any]:
        """The function's arguments after image and drawable: `given` by name over the declared defaults."""
        unknown = sorted(set(given) - {p.name for p in self.params})
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {unknown}")
        return [p.check(given.get(p.name, p.default)) for p in self.params]


class ProcedureError(Exception):
    """A procedure failed; the text is what GIMP shows the artist (the exception the plug-in raised, as a string)."""


PROCEDURES: dict[str, Procedure] = {}


def register(
    proc_name: str,
    blurb: str,
    help: str,
    author: str,
    copyright: str,
    date: str,
    label: str,
    imagetypes: str,
    params: Sequence[tuple],
    results: Sequence[tuple],
    function: Callable[..., Any],
    menu: str = "",
) -> Procedure:
    """gimpfu's register(): declare an image procedure shown as `label` under `menu` ("<Image>/Filters/...")."""
    if results:
        raise ValueError(f"{proc_name}: return values are not supported by this shim")
    if not menu.startswith("<Image>/"):
        raise ValueError(f"{proc_name}: menu must start with '<Image>/', got {menu!r}")
    procedure = Procedure(proc_name, blurb, help, author, copyright, date, label, imagetypes,
                          parse_params(params), function, menu)
    PROCEDURES[proc_name] = procedure
    return procedure
