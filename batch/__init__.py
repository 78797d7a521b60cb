"""Resumable batch colorization: a SQLite manifest per output folder and an engine that maps a worker over files,
in this process or on a Ray cluster (local by default). The `chromaseg batch` command puts them together."""
