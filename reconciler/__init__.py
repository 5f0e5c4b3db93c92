"""kgitops: a GitOps reconciler for SecretFlow Kuscia jobs (package ``reconciler``)."""

__version__ = "0.1.0"
