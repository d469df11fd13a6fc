"""Assembles the reliability report from the fragments the parts wrote.

Fragment convention (every part follows it):

- one Markdown file per part in the fragments directory, named NN-part.md, taken in name order:
  10-torture.md, 20-faults.md, 30-tenants.md, 40-fuzz.md, 50-sanitizers.md;
- its first lines may be goal comments, one per goal:
      <!-- goal: NAME | FIGURE | met|missed -->
  e.g. `<!-- goal: Crash torture: duplicated resources | 0 | met -->`; they become the goals
  table at the top of the report (and are left out of the body);
- then the part's own section, starting with a `## ` heading.

A part missing a fragment is listed as not run. A fragment older than this run is kept with the
date it was written, so `reliability/run --only faults` refreshes one part and keeps the others.

Each fragment written during this run gets a sidecar NN-part.md.run (JSON: the commit, whether the
tree had uncommitted changes, whether the run was --quick, whether the binary was given with
--binary), so a later assembly knows where an older fragment came from. The report is final only
when every part has a fragment made at this commit, on a clean tree, in a full run, on a binary
reliability/run built itself, and HEAD did not move during the run; otherwise its header lists
why it is not final.

Usage: assemble.py --fragments DIR --output FILE --started EPOCH --commit SHA [--dirty] [--quick]
                   [--binary-given] [--title TEXT] [--binary PATH]
Exit status: 0 when every goal found is met, 1 otherwise.
"""

import argparse
import datetime
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import kirarel  # noqa: E402

PARTS = [
    ("10-torture.md", "Crash torture", "torture"),
    ("20-faults.md", "Fault matrix", "faults"),
    ("30-tenants.md", "Tenant isolation and load", "tenants"),
    ("40-fuzz.md", "Fuzzing", "fuzz"),
    ("50-sanitizers.md", "Sanitizers", "sanitizers"),
]
# Parts that run the kira-walkthrough binary (the others build what they test themselves).
BINARY_PARTS = {"10-torture.md", "20-faults.md", "30-tenants.md"}
GOAL = re.compile(r"^<!--\s*goal:\s*(.*?)\s*\|\s*(.*?)\s*\|\s*(met|missed)\s*-->\s*$")


def git(*args):
    try:
        return subprocess.run(["git", "-C", kirarel.ROOT, *args], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def swift_version():
    try:
        output = subprocess.run(["swift", "--version"], capture_output=True, text=True, timeout=60)
        return (output.stdout + output.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def display(path):
    """A path relative to the repository when it is inside it."""
    relative = os.path.relpath(path, kirarel.ROOT)
    return path if relative.startswith("..") else relative


def utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def record_origin(path, stale, this_run, name):
    """Where a fragment's figures come from: written now for a fresh fragment, read back for an older one."""
    sidecar = path + ".run"
    if not stale:
        origin = dict(this_run)
        if name not in BINARY_PARTS:
            origin["binary_given"] = False
        with open(sidecar, "w") as handle:
            json.dump(origin, handle)
        return origin
    try:
        with open(sidecar) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def not_final_reasons(args, this_run, head, dirty_now, origins, missing):
    """Why this report does not describe one clean commit, run in full; empty when it does."""
    reasons = []
    if args.quick:
        reasons.append("a quick (smoke) run")
    if args.dirty:
        reasons.append("the tree had uncommitted changes when the run began (`--allow-dirty`)")
    elif dirty_now:
        reasons.append("the tree has uncommitted changes now")
    if this_run["commit"] != head:
        reasons.append(f"HEAD moved during the run ({this_run['commit'][:7]} → {head[:7]})")
    if missing:
        reasons.append("not run: " + ", ".join(title for title, _ in missing))
    for title, origin, stale, written in origins:
        when = f" (from {utc(written)})" if stale else ""
        if origin is None:
            reasons.append(f"{title}{when}: made by a run that did not record its commit")
        elif origin.get("commit") != head:
            reasons.append(f"{title}{when}: made at another commit, {str(origin.get('commit'))[:7]}")
        elif stale and origin.get("dirty"):
            reasons.append(f"{title}{when}: made on a tree with uncommitted changes")
        elif stale and origin.get("quick"):
            reasons.append(f"{title}{when}: a quick run")
        elif origin.get("binary_given"):
            reasons.append(f"{title}: ran a binary given with `--binary`, not one built from this commit by the run")
    return reasons


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragments", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--started", type=float, required=True, help="when this run began (seconds since the epoch)")
    parser.add_argument("--title", default="Reliability")
    parser.add_argument("--binary", default=None, help="the kira-walkthrough the parts ran")
    parser.add_argument("--commit", default=None, help="the commit (full SHA) checked out when the run began")
    parser.add_argument("--dirty", action="store_true", help="the tree had uncommitted changes when the run began")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--binary-given", action="store_true", help="the binary came from --binary, not from this run's build")
    args = parser.parse_args()
    head = git("rev-parse", "HEAD") or "unknown"
    this_run = {"commit": args.commit or head, "dirty": args.dirty, "quick": args.quick, "binary_given": args.binary_given}

    known = {name for name, _, _ in PARTS}
    extra = sorted(os.path.basename(path) for path in glob.glob(os.path.join(args.fragments, "[0-9]*.md")) if os.path.basename(path) not in known)
    parts = PARTS + [(name, name, None) for name in extra]

    goals, bodies, missing, origins = [], [], [], []
    for name, title, only in parts:
        path = os.path.join(args.fragments, name)
        if not os.path.exists(path):
            missing.append((title, only))
            continue
        written = os.path.getmtime(path)
        stale = written < args.started - 1
        origin = record_origin(path, stale, this_run, name)
        origins.append((title, origin, stale, written))
        body = []
        with open(path) as handle:
            for line in handle.read().splitlines():
                match = GOAL.match(line)
                if match:
                    goals.append((match.group(1), match.group(2), match.group(3) == "met", title, stale, written))
                else:
                    body.append(line)
        text = "\n".join(body).strip()
        if stale:
            text = re.sub(r"^(## .*)$", rf"\1\n\n_Figures from an earlier run, {utc(written)}._", text, count=1, flags=re.M)
        bodies.append(text)

    info = kirarel.machine()
    commit = this_run["commit"][:7]
    dirty_now = bool(git("status", "--porcelain", "--untracked-files=no"))
    if args.dirty or dirty_now:
        commit += " (with uncommitted changes)"
    reasons = not_final_reasons(args, this_run, head, dirty_now, origins, missing)
    status = "final: every part's figures come from this commit, a clean tree and a full run" if not reasons else (
        "**not final**: " + "; ".join(reasons))
    lines = [
        f"# {args.title}",
        "",
        "Written by `reliability/run` (see [its parts](#how-to-run-it)); the figures below are its latest.",
        "",
        "| | |",
        "|---|---|",
        f"| date | {utc(args.started)} |",
        f"| commit | {commit} |",
        f"| status | {status} |",
        f"| machine | {info['nproc']} cores, {info['cpu']}, {info['memory']} memory |",
        f"| swift | {swift_version()} |",
        *([f"| binary | `{display(args.binary)}` |"] if args.binary else []),
        "",
        "## Goals",
        "",
        "| Goal | Figure | Met |",
        "|---|---|---|",
    ]
    for name, figure, met, title, stale, written in goals:
        when = f" (from {utc(written)})" if stale else ""
        lines.append(f"| {name} | {figure}{when} | {'✅ met' if met else '❌ missed'} |")
    for title, only in missing:
        how = f" (`reliability/run --only {only}`)" if only else ""
        lines.append(f"| {title} | not run{how} | — |")
    lines += ["", *("\n".join([body, ""]) for body in bodies)]
    lines += [
        "## How to run it",
        "",
        "```sh",
        "reliability/run                    # everything: builds the release binary, then every part (long: the sanitizers are two cold builds)",
        "reliability/run --only torture     # one part: torture, faults, tenants, fuzz or sanitizers (a comma list works)",
        "reliability/run --quick            # a smoke version, seconds per part; writes reliability/out/quick/reliability.md instead",
        "reliability/run --allow-dirty      # a full run on a tree with uncommitted changes (refused without it); the report says not final",
        "```",
        "",
        "The report is final (its `status` line) only when every part's fragment was made at the commit it names, on a clean tree, "
        "in a full run, on the release binary `reliability/run` built itself.",
        "",
        "Parts write Markdown fragments to `reliability/out/` (ignored by git); `reliability/assemble.py` "
        "puts them together here, in the order above, with the goals table from each fragment's "
        "`<!-- goal: NAME | FIGURE | met|missed -->` lines.",
        "",
    ]
    with open(args.output, "w") as handle:
        handle.write("\n".join(lines))
    missed = [goal for goal in goals if not goal[2]]
    for name, figure, met, *_ in goals:
        print(f"  {'met   ' if met else 'MISSED'}  {name}: {figure}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
