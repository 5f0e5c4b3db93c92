from reconciler.model import JobPhase, JobSpec, ObjectRef, Resource, ScheduleMode


def test_job_spec_applies_crd_defaults() -> None:
    spec = JobSpec.from_dict(
        {
            "initiator": "alice",
            "tasks": [
                {"alias": "a", "appImage": "img", "taskInputConfig": "{}", "parties": [{"domainID": "alice"}]}
            ],
        }
    )
    assert spec.schedule_mode is ScheduleMode.STRICT
    assert spec.max_parallelism == 1
    assert spec.tasks[0].tolerable is False
    assert spec.tasks[0].priority == 0


def test_resource_round_trip_and_identity() -> None:
    doc = {
        "apiVersion": "kuscia.secretflow/v1alpha1",
        "kind": "KusciaJob",
        "metadata": {"name": "job-a", "labels": {"x": "y"}},
        "spec": {"initiator": "alice"},
    }
    r = Resource.from_manifest(doc)
    assert r.ref == ObjectRef("KusciaJob", "cross-domain", "job-a")
    assert r.to_manifest()["metadata"]["namespace"] == "cross-domain"
    app = Resource.from_manifest({"kind": "AppImage", "metadata": {"name": "img", "namespace": "x"}})
    assert str(app.ref) == "AppImage/img"


def test_initialized_phase_accepts_kuscia_spelling() -> None:
    assert JobPhase.parse("initialized") is JobPhase.INITIALIZED
    assert JobPhase.parse("") is JobPhase.INITIALIZED
    assert JobPhase.SUCCEEDED.is_final and not JobPhase.RUNNING.is_final
