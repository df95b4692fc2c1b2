"""Printing a difference as a replayable transcript, and the findings file."""

from transcript import describe_step, dumps

MAX_FRAME_SHOWN = 400


def show_frames(frames):
    if not frames:
        return "(nothing)"
    shown = []
    for frame in frames:
        if isinstance(frame, str):
            shown.append(frame)
            continue
        text = repr(frame)
        shown.append(text if len(text) <= MAX_FRAME_SHOWN else text[:MAX_FRAME_SHOWN] + "...(%d bytes)" % len(frame))
    return "  ".join(shown)


def signature(difference):
    """The class of a difference: its kind and the command it answers."""
    return "%s: %s" % (difference["kind"], difference["cmd"])


def render(session, run, saved_path=None):
    """The transcript of a failing session up to its difference: each step, what Redis answered
    the stepping client, and at the difference what each side sent."""
    diff = run.difference
    if diff is None:
        return "session %s: no difference when run again (a timing-dependent difference)" % session["name"]
    lines = ["session %s (%d client(s)), first difference at step %d: %s"
             % (session["name"], session["clients"], diff["step"], signature(diff))]
    if saved_path:
        lines.append("replay: scripts/redis-diff.sh --replay %s" % saved_path)
    for index, step, ref, gw in run.log:
        lines.append("  #%d %s%s" % (index, describe_step(step), "   (setup: counts only)" if step.get("check") == "count" else ""))
        if index == diff["step"]:
            who = "c%s" % diff["client"] if diff["client"] is not None else "server"
            lines.append("      %s got from redis  : %s" % (who, show_frames(diff["redis"])))
            lines.append("      %s got from rpcgate: %s" % (who, show_frames(diff["rpcgate"])))
            if diff.get("detail"):
                lines.append("      (%s)" % diff["detail"])
        elif ref is not None and ref.frames:
            for client in sorted(ref.frames):
                if ref.frames[client]:
                    lines.append("      c%d <- %s" % (client, show_frames(ref.frames[client])))
    return "\n".join(lines)


def findings_markdown(findings, stats, seeds):
    """findings: list of (signature, session, run, saved path)."""
    out = ["# redis-diff findings", "",
           "Runs: %s. Sessions %d, commands %d, bytes sent %d, received %d, differences %d." % (
               ", ".join(seeds), stats["sessions"], stats["commands"], stats["bytes_sent"],
               stats["bytes_received"], stats["differences"]), ""]
    for i, (sig, session, run, path) in enumerate(findings, 1):
        out += ["## %d. %s" % (i, sig), "", "```", render(session, run, path), "```", "",
                "<details><summary>transcript JSON</summary>", "", "```json", dumps(session).rstrip(), "```",
                "</details>", ""]
    return "\n".join(out)
