"""Pieces of the Kubernetes backend: object mapping, retry policy, resilient watch, inventory ConfigMaps."""
