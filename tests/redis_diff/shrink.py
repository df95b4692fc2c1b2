"""Shrinking a failing session to a minimal one that still shows the same class of difference
(same kind, same command): remove runs of steps (halves, quarters, ... single steps), then single
commands of a pipeline, then the cuts and waits of a write, then unused clients. Bounded in time;
whatever is smallest when the time is up is the result."""

import copy
import time

from executor import run_session
from report import signature
from transcript import clients_of


def shrink(lane, session, stats, target, budget_s):
    """(smallest session, its run) still failing with signature `target`."""
    deadline = time.monotonic() + budget_s
    best, best_run = session, None

    def still_fails(candidate):
        nonlocal best, best_run
        if time.monotonic() > deadline:
            return False
        run = run_session(lane, candidate, stats)
        note = lane.settle()
        if note:
            return False
        if run.difference is not None and signature(run.difference) == target:
            best, best_run = candidate, run
            return True
        return False

    # 1. steps: those after the failing one never matter; often the failing step alone, or the
    #    steps of the clients it involves, are enough
    first = _failing_step(lane, best, stats)
    if first is None:
        return best, run_session(lane, best, stats)
    still_fails(_with_steps(best, best["steps"][:first + 1]))
    failing = best["steps"][-1]
    involved = set(clients_of(failing))
    for candidate_steps in ([failing],
                            [s for s in best["steps"] if set(clients_of(s)) <= involved or s["kind"] == "wait_blocked"]):
        if len(candidate_steps) < len(best["steps"]):
            still_fails(_with_steps(best, candidate_steps))
    size = max(1, len(best["steps"]) // 2)
    while size >= 1 and time.monotonic() < deadline:
        i = 0
        while i < len(best["steps"]) and time.monotonic() < deadline:
            candidate = _with_steps(best, best["steps"][:i] + best["steps"][i + size:])
            if not (candidate["steps"] and still_fails(candidate)):
                i += size
        size //= 2
    # 2. commands inside pipelines
    for si in range(len(best["steps"])):
        ci = 0
        while si < len(best["steps"]) and time.monotonic() < deadline:
            step = best["steps"][si]
            if step["kind"] != "send" or "cmds" not in step or ci >= len(step["cmds"]) or len(step["cmds"]) < 2:
                break
            candidate = copy.deepcopy(best)
            del candidate["steps"][si]["cmds"][ci]
            candidate["steps"][si].pop("cuts", None)
            if not still_fails(candidate):
                ci += 1
    # 3. cuts and waits
    for si in range(len(best["steps"])):
        step = best["steps"][si]
        for key in ("cuts", "min_wait"):
            if key in step and time.monotonic() < deadline:
                candidate = copy.deepcopy(best)
                del candidate["steps"][si][key]
                still_fails(candidate)
    # 4. clients nobody uses any more
    used = sorted({c for step in best["steps"] for c in clients_of(step)})
    if used and used != list(range(best["clients"])) and time.monotonic() < deadline:
        still_fails(_renumber(best, used))
    if best_run is None:
        best_run = run_session(lane, best, stats)
        lane.settle()
    return best, best_run


def _failing_step(lane, session, stats):
    run = run_session(lane, session, stats)
    lane.settle()
    return run.difference["step"] if run.difference else None


def _with_steps(session, steps):
    candidate = dict(session)
    candidate["steps"] = copy.deepcopy(steps)
    candidate["name"] = session["name"].split(" (shrunk)")[0] + " (shrunk)"
    return candidate


def _renumber(session, used):
    mapping = {old: new for new, old in enumerate(used)}
    candidate = copy.deepcopy(session)
    candidate["clients"] = len(used)
    for step in candidate["steps"]:
        if "client" in step:
            step["client"] = mapping[step["client"]]
        for part in step.get("parts", ()):
            part["client"] = mapping[part["client"]]
        if "capture_id" in step:
            step["capture_id"] = mapping.get(step["capture_id"], step["capture_id"])
    return candidate
