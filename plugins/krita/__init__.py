"""The Krita plugin: the `DocumentAdapter` for Krita documents (`document`, `colorspace`, `layers`, `source`: which
layer a command works on; `constants`: Krita's node types, color models and depths as enums), the Qt-free
`controller` that runs commands through the shared runner, and the Krita UI around it (`extension`: the menu and the
timer; `docker`: the panel). Only `extension` and `docker` import Qt; everything else is tested on a fake `krita`.
"""
