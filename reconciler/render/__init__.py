"""Presentation: tables, field lists, job details and DAG pictures, as pure functions of the views."""
