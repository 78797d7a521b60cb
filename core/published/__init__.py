"""Published colorizers, written here from their papers and reference code, that load the official weight files.

SIGGRAPH17 (Zhang et al. 2017, interactive: takes the artist's hints) and DDColor (Kang et al. 2023, automatic) are
optional back ends beside the project's own model. Each architecture reproduces its upstream state-dict names
exactly so the published files load with strict key and shape checks (``upstream_format``); ``architectures`` is
the registry of names the CLI and daemon accept. Every ``predict_ab`` returns ab at the model's working size: the
pipeline upsamples it under the input's exact L.
"""
