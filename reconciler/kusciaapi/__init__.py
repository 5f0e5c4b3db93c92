"""KusciaAPI's job service over HTTP(S): the wire mapping (``mapping``, ``status``) and ``kgitops serve``
(``server``), which exposes any Backend the way a Kuscia node's KusciaAPI does."""
