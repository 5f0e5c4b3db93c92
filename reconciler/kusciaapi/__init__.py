"""KusciaAPI's wire format, for both sides: the messages (``proto/kusciaapi.proto``, ``messages``),
protojson encoding (``protojson``), and the mapping between KusciaAPI's fields and a KusciaJob (``mapping``,
``status``). Imports nothing of the server (``reconciler.serve``) nor of any backend."""
