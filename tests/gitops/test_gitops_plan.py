"""The pure differ: what each object's action is, and the safety rules, as data."""

from __future__ import annotations

import copy

from reconciler.model import ObjectRef, Origin, Resource
from reconciler.plan import Action, DesiredState, PlanOptions, make_plan
from reconciler.plan import ownership as own
from reconciler.render.plan import render_json, render_markdown, render_text

from .gitops_support import job_doc

SRC = "dir:/repo"


def desired(*docs: dict, revision: str = "rev1") -> DesiredState:
    state = DesiredState(SRC, revision, file_count=len(docs))
    for d in docs:
        obj = Resource.from_manifest(d, Origin(f"{d['metadata']['name']}.yaml", 1, 1))
        state.objects[obj.ref] = obj
        state.spec_hashes[obj.ref] = own.spec_hash(obj.spec)
    return state


def live_of(doc: dict, source: str = SRC, phase: str = "Running") -> Resource:
    obj = Resource.from_manifest(copy.deepcopy(doc), Origin(f"{doc['metadata']['name']}.yaml"))
    labels, ann = own.ownership_metadata(source, f"{obj.name}.yaml", own.spec_hash(obj.spec), "rev0")
    obj.labels.update(labels)
    obj.annotations.update(ann)
    obj.status = {"phase": phase}
    return obj


def ref(name: str) -> ObjectRef:
    return ObjectRef.of("KusciaJob", name)


def test_create_unchanged_and_backend_filled_fields_are_not_noise() -> None:
    a, b = job_doc("job-a"), job_doc("job-b")
    live_b = live_of(b)
    # what a backend fills in: defaults, a generated taskID, Kuscia's own annotations, status
    live_b.spec.update({"scheduleMode": "Strict", "maxParallelism": 1})
    live_b.spec["tasks"][0].update({"taskID": "job-b-psi-x1", "tolerable": False, "priority": 0})
    live_b.annotations["kuscia.secretflow/initiator"] = "alice"
    plan = make_plan(desired(a, b), [live_b], {ref("job-b")})
    assert [(e.ref.name, e.action) for e in plan.entries] == [
        ("job-a", Action.CREATE),
        ("job-b", Action.UNCHANGED),
    ]
    assert plan.has_changes


def test_changed_job_is_out_of_sync_not_rerun_unless_asked() -> None:
    old, new = job_doc("job-a"), job_doc("job-a", ("psi", "train"))
    plan = make_plan(desired(new), [live_of(old)], {ref("job-a")})
    (e,) = plan.entries
    assert e.action == Action.CHANGED and not e.recreate and "one-shot" in e.blocked
    assert any(c.path == "spec.tasks[1]" for c in e.changes)
    assert not plan.has_changes
    again = make_plan(
        desired(new), [live_of(old)], {ref("job-a")}, PlanOptions(recreate=frozenset({"job-a"}))
    )
    assert again.entries[0].recreate and not again.entries[0].blocked
    annotated = job_doc("job-a", ("psi", "train"))
    annotated["metadata"]["annotations"] = {own.ON_CHANGE: "recreate"}
    assert make_plan(desired(annotated), [live_of(old)], {ref("job-a")}).entries[0].recreate


def test_drift_is_reported_and_only_repaired_when_configured() -> None:
    doc = job_doc("job-a")
    changed_live = live_of(doc)
    changed_live.spec["initiator"] = "bob"
    (e,) = make_plan(desired(doc), [changed_live], {ref("job-a")}).entries
    assert e.drift and e.reason == "changed outside kgitops" and e.blocked
    (gone,) = make_plan(desired(doc), [], {ref("job-a")}).entries
    assert gone.action == Action.CREATE and gone.drift and gone.blocked
    (fixed,) = make_plan(desired(doc), [], {ref("job-a")}, PlanOptions(recreate_drifted=True)).entries
    assert fixed.drift and not fixed.blocked


def test_prune_only_inventoried_only_when_enabled_and_respecting_the_annotation() -> None:
    keep = job_doc("job-keep")
    gone = live_of(job_doc("job-gone"))
    pinned = live_of(job_doc("job-pinned"))
    pinned.annotations[own.PRUNE] = "disabled"
    stranger = Resource.from_manifest(job_doc("job-stranger"))
    inv = {ref("job-gone"), ref("job-pinned"), ref("job-keep")}
    live = [live_of(keep), gone, pinned, stranger]
    off = make_plan(desired(keep), live, inv)
    assert off.entry(ref("job-gone")).blocked == "prune is not enabled (--prune)"  # type: ignore[union-attr]
    on = make_plan(desired(keep), live, inv, PlanOptions(prune=True))
    actions = {e.ref.name: (e.action, e.blocked) for e in on.entries}
    assert actions["job-gone"] == (Action.PRUNE, "")
    assert actions["job-pinned"][0] == Action.PRUNE and "disabled" in actions["job-pinned"][1]
    assert actions["job-stranger"][0] == Action.UNMANAGED
    unlimited = make_plan(desired(keep), live, inv, PlanOptions(prune=True, max_prune=None))
    assert unlimited.entry(ref("job-gone")).effective  # type: ignore[union-attr]
    nothing = make_plan(desired(keep), live, inv, PlanOptions(prune=True, max_prune=0))
    assert not nothing.entry(ref("job-gone")).effective  # type: ignore[union-attr]
    assert "more than --max-prune 0" in nothing.prune_refused


def test_max_prune_refuses_the_whole_prune() -> None:
    live = [live_of(job_doc(f"job-{i}")) for i in range(3)] + [live_of(job_doc("job-keep"))]
    inv = {o.ref for o in live}
    plan = make_plan(desired(job_doc("job-keep")), live, inv, PlanOptions(prune=True, max_prune=2))
    assert "more than --max-prune 2" in plan.prune_refused
    assert not plan.has_changes


def test_empty_or_failed_source_never_prunes() -> None:
    live = [live_of(job_doc("job-a"))]
    empty = DesiredState(SRC, "rev", file_count=0)
    plan = make_plan(empty, live, {ref("job-a")}, PlanOptions(prune=True))
    assert "yields no objects" in plan.entries[0].blocked and not plan.has_changes
    failed = DesiredState(SRC, "", error="ref `main` not found")
    plan = make_plan(failed, live, {ref("job-a")}, PlanOptions(prune=True))
    assert plan.entries[0].action == Action.HELD and not plan.has_changes


def test_held_objects_and_files_are_never_touched() -> None:
    state = desired(job_doc("job-ok"))
    state.held_refs[ref("job-bad")] = "bad.yaml:3:5: KJ004 unknown field"
    state.held_paths["broken.yaml"] = "broken.yaml:2:1: YAML syntax error"
    from_broken = live_of(job_doc("job-broken"))
    from_broken.annotations[own.SOURCE_PATH] = "broken.yaml"
    live = [live_of(job_doc("job-bad")), from_broken]
    plan = make_plan(state, live, {ref("job-bad"), ref("job-broken")}, PlanOptions(prune=True))
    acts = {e.ref.name: e.action for e in plan.entries}
    assert acts == {"job-ok": Action.CREATE, "job-bad": Action.HELD, "job-broken": Action.HELD}
    assert "YAML syntax error" in plan.entry(ref("job-broken")).reason  # type: ignore[union-attr]
    assert plan.held_files == {"broken.yaml": "broken.yaml:2:1: YAML syntax error"}


def test_unmanaged_identical_object_is_adopted_and_other_sources_left_alone() -> None:
    doc = job_doc("job-a")
    plain = Resource.from_manifest(doc)
    (e,) = make_plan(desired(doc), [plain], set()).entries
    assert e.action == Action.UNCHANGED and e.adopt and e.effective
    other = live_of(doc, source="git:elsewhere")
    plan = make_plan(desired(doc), [other], set())
    (o,) = plan.entries
    # left alone, and a conflict the user sees (the same object defined here), never "unmanaged and clean"
    assert o.action == Action.CONFLICT and "another source" in o.reason and not o.effective
    assert not plan.in_sync and not plan.has_changes
    # another source's object this source does not define is its business: unmanaged, in sync
    alone = make_plan(desired(job_doc("job-b")), [other], set())
    assert alone.entry(ref("job-a")).action == Action.UNMANAGED  # type: ignore[union-attr]


def test_tasks_created_by_a_job_are_not_listed() -> None:
    task = Resource(
        kind="KusciaTask", name="job-a-psi", labels={"kuscia.secretflow/controller": "kuscia-job"}
    )
    assert make_plan(desired(job_doc("job-a")), [task], set()).entries[0].ref == ref("job-a")
    assert len(make_plan(desired(job_doc("job-a")), [task], set()).entries) == 1


def test_reports_text_json_markdown() -> None:
    new = job_doc("job-new", ("psi", "train"))
    old, changed = job_doc("job-chg"), job_doc("job-chg", ("psi", "x"))
    plan = make_plan(desired(new, changed), [live_of(old)], {ref("job-chg")})
    text = render_text(plan)
    assert "+ create    KusciaJob/cross-domain/job-new" in text and "+ spec.tasks[1]:" in text
    assert "\x1b[" in render_text(plan, colour=True) and "\x1b[" not in text
    import json

    doc = json.loads(render_json(plan))
    assert {e["name"]: e["action"] for e in doc["entries"]} == {"job-new": "create", "job-chg": "changed"}
    md = render_markdown(plan)
    assert "| + | create | `KusciaJob/cross-domain/job-new`" in md
    assert md.count("```mermaid") == 2 and "n0 --> n1" in md


def test_compare_memo_is_reused_only_while_neither_side_changed() -> None:
    doc = job_doc("job-a")
    live = live_of(doc)
    live.resource_version = "7"
    memo: dict = {}
    assert make_plan(desired(doc), [live], {ref("job-a")}, memo=memo).entries[0].action == Action.UNCHANGED
    assert ref("job-a") in memo
    live.spec["initiator"] = "bob"  # changed behind kgitops's back: the backend bumps the resourceVersion
    live.resource_version = "8"
    (e,) = make_plan(desired(doc), [live], {ref("job-a")}, memo=memo).entries
    assert e.action == Action.CHANGED and e.drift and e.changes[0].path == "spec.initiator"
