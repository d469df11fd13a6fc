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

Usage: assemble.py --fragments DIR --output FILE --started EPOCH [--title TEXT]
Exit status: 0 when every goal found is met, 1 otherwise.
"""

import argparse
import datetime
import glob
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragments", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--started", type=float, required=True, help="when this run began (seconds since the epoch)")
    parser.add_argument("--title", default="Reliability")
    parser.add_argument("--binary", default=None, help="the kira-walkthrough the parts ran")
    args = parser.parse_args()

    known = {name for name, _, _ in PARTS}
    extra = sorted(os.path.basename(path) for path in glob.glob(os.path.join(args.fragments, "[0-9]*.md")) if os.path.basename(path) not in known)
    parts = PARTS + [(name, name, None) for name in extra]

    goals, bodies, missing = [], [], []
    for name, title, only in parts:
        path = os.path.join(args.fragments, name)
        if not os.path.exists(path):
            missing.append((title, only))
            continue
        written = os.path.getmtime(path)
        stale = written < args.started - 1
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
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    lines = [
        f"# {args.title}",
        "",
        "Written by `reliability/run` (see [its parts](#how-to-run-it)); the figures below are its latest.",
        "",
        "| | |",
        "|---|---|",
        f"| date | {utc(args.started)} |",
        f"| commit | {commit} |",
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
        "```",
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
