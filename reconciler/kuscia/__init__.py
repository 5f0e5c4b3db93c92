"""Kuscia's vocabulary, in one place: the label and annotation keys (``reconciler.kuscia.labels``), the stage
commands and the phase rules for stage commands and approvals (``reconciler.kuscia.stages``), the condition
types and reasons (``reconciler.kuscia.conditions``) and KusciaAPI's error codes
(``reconciler.kuscia.codes``); the phases themselves are ``reconciler.model.phases``. The engine, the
backends, the KusciaAPI server and client and the CLI all take these facts from here; nothing else spells
them out."""
