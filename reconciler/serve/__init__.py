"""``kgitops serve``: KusciaAPI's job service over any Backend, on HTTP (``http``) and gRPC (``grpc_server``),
both on top of one ``service.JobService``. Built on the wire package ``reconciler.kusciaapi``."""
