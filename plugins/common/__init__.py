"""Editor-agnostic logic the Krita and GIMP plugins share (standard library only: no numpy, no Qt, no krita, no gi).

An editor implements `adapter.DocumentAdapter` (read pixels, the selection and the hint layer; write result layers and
selections). `actions` turns an artist's command into a `Plan` (the daemon request plus how to write its answer back),
`runner.Runner` submits plans and is pumped from the editor's UI timer, `settings.Settings` holds the options, and
`pixels` / `geometry` / `naming` / `messages` are the small helpers those need.
"""
