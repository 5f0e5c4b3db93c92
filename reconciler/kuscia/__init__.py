"""Kuscia's vocabulary, in one place: the label and annotation keys (``reconciler.kuscia.labels``), the stage
commands and the phase rules for stage commands and approvals (``reconciler.kuscia.stages``), and KusciaAPI's
error codes (``reconciler.kuscia.codes``). The engine, the backends, the KusciaAPI server and client and the
CLI all take these facts from here; nothing else spells them out."""
