"""Manifest builders shared by the validate tests (a module name no other test package uses)."""

from __future__ import annotations

import textwrap

JOB = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaJob
metadata:
  name: psi-split
  namespace: cross-domain
spec:
  initiator: alice
  scheduleMode: BestEffort
  maxParallelism: 2
  tasks:
    - alias: psi
      taskID: psi-split-psi
      appImage: secretflow-image
      taskInputConfig: '{"sf_input_ids": ["alice-table", "bob-table"]}'
      parties:
        - domainID: alice
        - domainID: bob
    - alias: split
      taskID: psi-split-split
      dependencies: [psi]
      appImage: secretflow-image
      taskInputConfig: '{}'
      parties:
        - domainID: alice
        - domainID: bob
"""

APPIMAGE = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: AppImage
metadata:
  name: secretflow-image
spec:
  image:
    name: secretflow/secretflow-lite-anolis8
    tag: 1.11.0b1
  deployTemplates:
    - name: secretflow
      replicas: 1
      spec:
        containers:
          - name: secretflow
            command: [sh, -c, python -m secretflow.kuscia.entry ./kuscia/task-config.conf]
            workingDir: /root
            ports:
              - name: spu
                port: 20000
                protocol: GRPC
                scope: Cluster
"""

TASK = """\
apiVersion: kuscia.secretflow/v1alpha1
kind: KusciaTask
metadata:
  name: task-psi
  namespace: cross-domain
spec:
  initiator: alice
  taskInputConfig: '{}'
  parties:
    - domainID: alice
      appImageRef: secretflow-image
    - domainID: bob
      appImageRef: secretflow-image
"""


def dedent(text: str) -> bytes:
    return textwrap.dedent(text).encode()
