"""The benchmarks behind `bench/run`: measures, in one run on this machine, and writes docs/benchmarks.md.

Sections (each alternates the contenders run by run and reports medians with their spread):
time to first frame in a 120x35 pseudo-terminal (ours and posting), the headless quickstart against
one emulator (ours, a plain curl script, the exported curl replay, tavern), the emulator under wrk
(authenticated GETs and creating POSTs, memory after 10,000 and 100,000 requests), peak resident
memory (the TUI through a whole walkthrough, the emulator), rendering a 5 MB response, saving a
session, the emulator's time to ready, and (with --fresh-clone, which the full run of bench/run
includes) the time from a fresh clone to the first frame. Every process it starts listens on
127.0.0.1 only and is stopped on exit; every loop is bounded in count and in time.

For each goal missed, the section says why with evidence gathered by this run (a memory breakdown
from /proc, a perf profile, a step-by-step timing): every figure in the document is this run's.

    bench.py --binary .build-release/release/kira-walkthrough --kira-bench .build-release/release/KiraBench \
             --venv .build-bench/venv --output docs/benchmarks.md [--quick] [--fresh-clone] [--allow-dirty]
"""
import argparse
import atexit
import datetime
import functools
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def _data_url(name, kind):
    """A shipped specimen image as a data URL, for the tavern contender's complete user (the curl
    script reads the files itself): the emulator verifies only a complete user."""
    import base64
    with open(os.path.join(HERE, "..", "flows", "images", name), "rb") as handle:
        return f"data:image/{kind};base64," + base64.b64encode(handle.read()).decode()


SPECIMENS = {"passport": _data_url("specimen-passport.jpg", "jpeg"), "proof": _data_url("specimen-utility-bill.png", "png")}
ROOT = os.path.dirname(HERE)
CREDENTIALS = {}
STARTED = []  # processes to stop on exit
SCRATCH = tempfile.mkdtemp(prefix="kira-bench-")


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ── processes ────────────────────────────────────────────────────────────────────────────────────


def stop_all():
    for process in reversed(STARTED):
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
    shutil.rmtree(SCRATCH, ignore_errors=True)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def status_kb(pid, field):
    """VmRSS, VmHWM, … of a live process, in kB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def smaps_breakdown(pid, top=8):
    """The largest resident mappings of a process (kB), grouped by what they map."""
    sizes = {}
    current = None
    try:
        with open(f"/proc/{pid}/smaps") as smaps:
            for line in smaps:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    parts = line.split()
                    current = parts[5] if len(parts) > 5 else "[anonymous]"
                    current = os.path.basename(current) if current.startswith("/") else current
                elif line.startswith("Rss:") and current is not None:
                    sizes[current] = sizes.get(current, 0) + int(line.split()[1])
    except OSError:
        return []
    return sorted(sizes.items(), key=lambda item: -item[1])[:top]


def start_emulator(binary, *extra):
    """`sandbox serve --port 0 …`; returns (process, base URL) once its readiness line is out."""
    out = open(os.path.join(SCRATCH, f"emulator-{len(STARTED)}.out"), "w+")
    err = open(os.path.join(SCRATCH, f"emulator-{len(STARTED)}.err"), "w")
    started = time.monotonic()
    process = subprocess.Popen(
        [binary, "sandbox", "serve", "--host", "127.0.0.1", "--port", "0", *extra], stdout=out, stderr=err, cwd=ROOT
    )
    STARTED.append(process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out.seek(0)
        line = out.read()
        if "ready at" in line:
            ready = time.monotonic() - started
            base = re.search(r"(http://127\.0\.0\.1:\d+/sandbox)", line).group(1)
            for name in ("KIRA_API_KEY", "KIRA_CLIENT_ID", "KIRA_PASSWORD"):
                CREDENTIALS[name] = re.search(name + r"=(\S+)", line).group(1)
            return process, base, ready
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode}")
        time.sleep(0.005)
    raise RuntimeError("the emulator did not print its readiness line within 30 s")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process in STARTED:
        STARTED.remove(process)


def http(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def authenticate(base):
    answer = http(
        "POST", base + "/auth", {"client_id": CREDENTIALS["KIRA_CLIENT_ID"], "password": CREDENTIALS["KIRA_PASSWORD"]},
        {"x-api-key": CREDENTIALS["KIRA_API_KEY"]},
    )
    return answer["data"]["access_token"]


def timed(command, env=None, cwd=ROOT, timeout=120):
    """Wall seconds of a command that must exit 0."""
    started = time.monotonic()
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {result.returncode}: {result.stderr.decode()[-2000:]}{result.stdout.decode()[-2000:]}")
    return elapsed


# ── statistics and context ───────────────────────────────────────────────────────────────────────


def spread(samples, unit="ms", scale=1000.0, digits=1):
    """`median (min–max, n)` of samples given in seconds."""
    values = [sample * scale for sample in samples]
    return f"{statistics.median(values):.{digits}f} {unit} ({min(values):.{digits}f}–{max(values):.{digits}f}, n={len(values)})"


def load_average():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def other_builds():
    """Compiler and build processes of others running right now (they skew every figure)."""
    try:
        out = subprocess.run(["pgrep", "-fa", "swift-build|swift-frontend|swiftc "], stdout=subprocess.PIPE, text=True).stdout
    except OSError:
        return []
    return [line for line in out.splitlines() if "pgrep" not in line]


def wait_for_quiet_machine(limit_seconds):
    """Waits (bounded) until no other build runs, so the figures are not skewed by one."""
    deadline = time.monotonic() + limit_seconds
    while other_builds() and time.monotonic() < deadline:
        log(f"waiting for {len(other_builds())} build process(es) of others to finish (load {load_average()})")
        time.sleep(15)
    return other_builds()


def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    os_name = "unknown"
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    swift = subprocess.run(["swift", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.splitlines()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], stdout=subprocess.PIPE, text=True).stdout.strip()
    return {
        "cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(memory / 1024 / 1024, 1), "os": os_name,
        "kernel": platform.release(), "swift": swift[0] if swift else "unknown", "python": platform.python_version(),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""), "dirty": bool(dirty),
    }


# ── 1. time to first frame ───────────────────────────────────────────────────────────────────────


def pty_run(venv_python, markers, command, env, drive=None, quit_keys="q", timeout=30):
    arguments = [venv_python, os.path.join(HERE, "pty_frame.py"), "--timeout", str(timeout), "--quit", quit_keys]
    for marker in markers:
        arguments += ["--marker", marker]
    if drive:
        arguments += ["--drive", drive]
    result = subprocess.run(arguments + ["--", *command], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, timeout=timeout + 120)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"pty harness failed: {result.stderr[-2000:]}")


def ours_tui(binary, state_dir):
    env = dict(os.environ, KIRA_API_KEY="", KIRA_CLIENT_ID="", KIRA_PASSWORD="", HOME=state_dir)
    return [binary, "--state-dir", state_dir, "--va-ready-after", "0"], env


def posting_tui(venv, home):
    collection = os.path.join(home, "collection")
    os.makedirs(collection, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_DATA_HOME=os.path.join(home, ".local/share"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    return [os.path.join(venv, "bin", "posting"), "--collection", collection], env


OURS_MARKERS = ["LOCAL EMULATOR", "quit"]
POSTING_MARKERS = ["^c Quit", "Wrap"]


def first_frames(args, venv_python, runs):
    log("time to first frame: ours and posting, alternating")
    ours, posting, posting_home = [], [], os.path.join(SCRATCH, "posting-home")
    schedule = {}
    for index in range(runs + 1):  # run 0 warms up both (page cache, Python bytecode)
        order = ["ours", "posting"] if index % 2 == 0 else ["posting", "ours"]
        for who in order:
            if who == "ours":
                command, env = ours_tui(args.binary, tempfile.mkdtemp(dir=SCRATCH))
                result = pty_run(venv_python, OURS_MARKERS, command, env)
                sample = ours
            else:
                command, env = posting_tui(args.venv, posting_home)
                result = pty_run(venv_python, POSTING_MARKERS, command, env, quit_keys="\\x03")
                sample = posting
            if result["first_frame_ms"] is None:
                raise RuntimeError(f"{who}: no first frame: {result}")
            if index > 0:
                sample.append(result["first_frame_ms"] / 1000)
                schedule.setdefault(who, []).append((result.get("cpu_ms"), result.get("runqueue_ms")))
    return {"ours": ours, "posting": posting, "schedule": schedule, "load": load_average()}


def tui_walkthroughs(args, venv_python, runs):
    log("peak memory of the TUI through whole walkthroughs")
    results = []
    for _ in range(runs):
        state = tempfile.mkdtemp(dir=SCRATCH)
        command, env = ours_tui(args.binary, state)
        result = pty_run(venv_python, OURS_MARKERS, command, env, drive="Walkthrough complete", timeout=30)
        if not result.get("completed"):
            raise RuntimeError(f"the TUI walkthrough did not complete: {result.get('last_screen', result)}")
        results.append(result)
    return {"runs": results, "load": load_average()}


def tui_memory_breakdown(args):
    """Resident memory of the TUI by mapping, read while it shows its first screen (for a missed goal)."""
    sys.path.insert(0, HERE)
    from pty_frame import Terminal

    command, env = ours_tui(args.binary, tempfile.mkdtemp(dir=SCRATCH))
    env = dict(env, TERM="xterm-256color", LANG="C.UTF-8")
    terminal = Terminal(command, 120, 35, env)
    terminal.wait_for(OURS_MARKERS, time.monotonic() + 30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Walkthrough complete" not in terminal.text() and not terminal.exited:
        terminal.pump(0.05)
        terminal.send(b"\r")
        time.sleep(0.2)
    breakdown = smaps_breakdown(terminal.pid, top=10)
    everything = smaps_breakdown(terminal.pid, top=100_000)
    threads = len(os.listdir(f"/proc/{terminal.pid}/task"))
    rollup = {}
    for line in open(f"/proc/{terminal.pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            rollup[parts[0][:-1]] = int(parts[1])
    hwm = status_kb(terminal.pid, "VmHWM")
    terminal.close(b"q")
    return {"mappings": breakdown, "all_mappings": everything, "threads": threads, "rollup": rollup, "vm_hwm_kb": hwm}


# ── 2. the quickstart, headless ──────────────────────────────────────────────────────────────────


def quickstarts(args, venv_python, rounds):
    log("the quickstart, headless: ours, plain curl, exported replay, tavern, alternating")
    emulator, base, _ = start_emulator(args.binary, "--auto-verify-after", "0", "--va-ready-after", "0")
    env = dict(os.environ, KIRA_BASE_URL=base, **CREDENTIALS)

    def run_ours():
        state = tempfile.mkdtemp(dir=SCRATCH)
        return timed([args.binary, "run", "--plain", "--yes", "--target", base, "--state-dir", state, "--session", "bench"], env=env)

    def run_curl():
        return timed(["bash", os.path.join(HERE, "quickstart.curl.sh")], env=env)

    # The replay script `export --format curl` writes from a finished session.
    sessions = tempfile.mkdtemp(dir=SCRATCH)
    timed([args.binary, "run", "--plain", "--yes", "--target", base, "--state-dir", sessions, "--session", "bench"], env=env)
    replay = os.path.join(SCRATCH, "replay.sh")
    timed([args.binary, "export", "--format", "curl", "--state-dir", sessions, "--session", "bench", "--output", replay], env=env)

    def run_replay():
        return timed(["bash", replay], env=env)

    def run_tavern():
        keys = {f"BENCH_KEY_{name}": str(uuid.uuid4()) for name in ("USER", "VA", "RECIPIENT", "PAYOUT")}
        tavern_env = dict(env, BENCH_TAG=uuid.uuid4().hex[:8], BENCH_PASSPORT_FRONT=SPECIMENS["passport"],
                          BENCH_PROOF_OF_ADDRESS=SPECIMENS["proof"], **keys)
        return timed([os.path.join(args.venv, "bin", "tavern-ci"), os.path.join(HERE, "quickstart.tavern.yaml"), "-q", "-p", "no:cacheprovider",
                      "-W", "ignore::DeprecationWarning"], env=tavern_env, cwd=SCRATCH)

    contenders = {"ours": run_ours, "curl": run_curl, "replay": run_replay, "tavern": run_tavern}
    times = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(rounds + 1):  # round 0 warms up
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            elapsed = contenders[name]()
            if index > 0:
                times[name].append(elapsed)
    emulator_hwm = status_kb(emulator.pid, "VmHWM")
    stop(emulator)
    return {"times": times, "sessions": sessions, "emulator_hwm_kb": emulator_hwm, "load": load_average()}


# ── 3. the emulator under wrk ────────────────────────────────────────────────────────────────────


def wrk(script, url, token, threads, connections, seconds, budget=0, tag="bench"):
    """One wrk run; with a budget (answers per thread) it ends as soon as every thread spent it."""
    marker = os.path.join(SCRATCH, f"budget-{uuid.uuid4().hex[:6]}-")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", os.path.join(HERE, script), url,
               "--", token, CREDENTIALS["KIRA_API_KEY"], str(budget), marker, tag]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE)
    STARTED.append(process)
    if budget:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None:
            if all(os.path.exists(marker + str(n)) for n in range(1, threads + 1)):
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
    out, err = process.communicate(timeout=seconds + 30)
    STARTED.remove(process)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no summary: {out[-1000:]} {err[-1000:]}")
    result = json.loads(lines[-1])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["error_total"] = sum(result["errors"].values())
    result["config"] = f"-t{threads} -c{connections}"
    return result


def emulator_under_load(args, quick):
    log("the emulator under wrk")
    emulator, base, _ = start_emulator(args.binary)
    token = authenticate(base)
    user = http("POST", base + "/v1/users",
                {"type": "individual", "first_name": "Ada", "last_name": "Lovelace", "email": "bench-get@example.com", "source_of_funds": "salary"},
                {"x-api-key": CREDENTIALS["KIRA_API_KEY"], "Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())})
    get_url = f"{base}/v1/users/{user['id']}"
    result = {"rss_start_kb": status_kb(emulator.pid, "VmRSS")}
    # Bounded state: resident memory after exactly 10,000 and 100,000 (and 200,000) GETs.
    memory = []
    done = 0
    recorder = None
    for target in (10_000, 100_000, 200_000, 400_000, 700_000):
        per_thread = (target - done) // 2
        run = wrk("get_user.lua", get_url, token, 2, 16, 200, budget=per_thread)
        done += run["requests"]
        if target == 10_000:
            # Every page the emulator touches from here to the reading after 100,000 GETs (its
            # resident growth), with the code that touched it: the evidence for a miss.
            recorder = start_fault_recording(emulator.pid)
        time.sleep(0.5)
        memory.append({"after": done, "rss_kb": status_kb(emulator.pid, "VmRSS"), "anon_kb": status_kb(emulator.pid, "RssAnon"),
                       "errors": run["error_total"], "mappings": smaps_breakdown(emulator.pid, top=100_000)})
        if target == 100_000:
            result["get_memory_faults"] = finish_fault_recording(recorder, emulator.pid)
    result["get_memory"] = memory
    # Throughput and latency: alternating wrk configurations, 10 s each.
    seconds = 5 if quick else 10
    configs = [(1, 16), (2, 32), (1, 64)]
    runs = {f"-t{t} -c{c}": [] for t, c in configs}
    for _ in range(2 if quick else 3):
        for threads, connections in configs:
            runs[f"-t{threads} -c{connections}"].append(wrk("get_user.lua", get_url, token, threads, connections, seconds))
    result["get_runs"] = runs
    result["load_after_get"] = load_average()
    best = max(runs.values(), key=lambda sample: statistics.median(run["rps"] for run in sample))
    if statistics.median(run["rps"] for run in best) < 8000 or statistics.median(run["latency_us"]["p99"] for run in best) >= 20_000:
        threads, connections = (int(part[2:]) for part in best[0]["config"].split())
        log("GET goal missed: profiling the emulator with perf")
        result["profile"] = perf_profile(emulator.pid, lambda: wrk("get_user.lua", get_url, token, threads, connections, 6), seconds=5)
    # Creating POSTs: every request a new user with a fresh idempotency key.
    rss_before_posts = status_kb(emulator.pid, "VmRSS")
    posts = [wrk("create_user.lua", base + "/v1/users", token, 1, 16, seconds, tag=f"p{n}{uuid.uuid4().hex[:4]}") for n in range(2)]
    result["post_runs"] = posts
    result["post_memory"] = {"before_kb": rss_before_posts, "after_kb": status_kb(emulator.pid, "VmRSS"),
                             "users_created": sum(run["requests"] - run["errors"]["status"] for run in posts)}
    result["emulator_hwm_kb"] = status_kb(emulator.pid, "VmHWM")
    result["load"] = load_average()
    stop(emulator)
    return result


def perf_profile(pid, during, seconds=5):
    """The hottest symbols of a process while `during()` loads it, from `perf record -g` (if perf works)."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(SCRATCH, "perf.data")
    recorder = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o", data, "--", "sleep", str(seconds)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    STARTED.append(recorder)
    try:
        during()
    finally:
        try:
            recorder.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
        STARTED.remove(recorder)
    if recorder.returncode != 0 or not os.path.exists(data):
        return None
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol", "--percent-limit", "1.5", "-g", "none"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120).stdout
    rows = []
    for line in report.splitlines():
        match = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+\[\.\]\s+(.*)$", line)
        if match:
            rows.append((float(match.group(1)), match.group(2), demangle(re.split(r"\s{2,}", match.group(3).strip())[0])))
    by_dso = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso", "-g", "none"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120).stdout
    dsos = []
    for line in by_dso.splitlines():
        match = re.match(r"^\s+([\d.]+)%\s+(\S+)\s*$", line)
        if match:
            dsos.append((float(match.group(1)), match.group(2)))
    return {"symbols": rows[:20], "dsos": dsos[:8]}


ALLOCATOR_FRAME = re.compile(r"malloc|sysmalloc|StackAllocator|swift_slowAlloc|swift_allocObject|swift_task_alloc|swift_job_run"
                             r"|_ContiguousArrayBuffer|_createNewBuffer|_reserveCapacity|_consumeAndCreateNew|Array\.append|Array\.reserveCapacity"
                             r"|^0x|\[unknown\]")


def start_fault_recording(pid):
    """Starts `perf record -e page-faults -c 1 -d` (DWARF call chains) on a process: one sample for every
    page it touches for the first time, with the faulting address. None without perf."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(SCRATCH, "faults.data")
    recorder = subprocess.Popen(["perf", "record", "-e", "page-faults", "-c", "1", "-d", "--call-graph", "dwarf,16384",
                                 "-p", str(pid), "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    STARTED.append(recorder)
    recorder.data = data
    time.sleep(1)  # perf attaches to every thread before anything is measured
    return recorder


def finish_fault_recording(recorder, pid):
    """Stops the recording; how many faults, in which mapping each faulting address lies, and the first
    frame outside the allocator that caused each. None without perf."""
    if recorder is None:
        return None
    recorder.send_signal(signal.SIGINT)
    try:
        recorder.wait(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
    STARTED.remove(recorder)
    data = recorder.data
    if not os.path.exists(data):
        return None
    maps = []
    with open(f"/proc/{pid}/maps") as handle:
        for line in handle:
            parts = line.split()
            low, high = (int(bound, 16) for bound in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else "[anonymous]"
            maps.append((low, high, os.path.basename(name) if name.startswith("/") else name, parts[1]))
    script = subprocess.run(["perf", "script", "-i", data, "-F", "addr,ip,sym,dso"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, timeout=300).stdout
    places, causes, total = {}, {}, 0
    for block in script.strip().split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        total += 1
        address = int(lines[0].split()[0], 16) if re.match(r"^[0-9a-f]+$", lines[0].split()[0]) else 0
        place = next((f"{name} ({perm})" for low, high, name, perm in maps if low <= address < high), "unmapped since")
        places[place] = places.get(place, 0) + 1
        frames = [re.sub(r"\+0x[0-9a-f]+$", "", frame.split(None, 1)[1].rsplit(" (", 1)[0]) for frame in lines[1:] if len(frame.split(None, 1)) > 1]
        leaf = demangle(frames[0]) if frames else "?"
        cause = next((demangle(frame) for frame in frames[1:] if not ALLOCATOR_FRAME.search(demangle(frame))), "?")
        key = (leaf[:60], cause[:110])
        causes[key] = causes.get(key, 0) + 1
    return {"total": total, "places": sorted(places.items(), key=lambda item: -item[1]),
            "causes": sorted(causes.items(), key=lambda item: -item[1])[:12]}


@functools.lru_cache(maxsize=None)
def demangle(symbol):
    if symbol.startswith("$s") and shutil.which("swift-demangle"):
        out = subprocess.run(["swift-demangle", "--simplified", "--compact", symbol], stdout=subprocess.PIPE, text=True).stdout.strip()
        return out or symbol
    return symbol


# ── 4. in-process figures (KiraBench) and the emulator's start ───────────────────────────────────


def kira_bench(args, sessions):
    log("rendering a 5 MB response and saving a session (KiraBench)")
    render = json.loads(subprocess.run([args.kira_bench, "render", "--megabytes", "5", "--repeat", "7"], stdout=subprocess.PIPE,
                                       check=True, text=True, timeout=600).stdout)
    save = json.loads(subprocess.run([args.kira_bench, "save", "--state-dir", sessions, "--session", "bench", "--repeat", "200",
                                      "--into", os.path.join(ROOT, ".build-bench", "save-scratch")],
                                     stdout=subprocess.PIPE, check=True, text=True, timeout=600).stdout)
    json_object = json.loads(subprocess.run([args.kira_bench, "object", "--keys", "50000", "--repeat", "7"], stdout=subprocess.PIPE,
                                            check=True, text=True, timeout=600).stdout)
    # A missed render goal gets its CPU profile, from a run of its own under perf.
    render_profile = None
    if float(render["first_screen_total"]["median_ms"]) > 200:
        log("render goal missed: profiling KiraBench render with perf")
        render_profile = perf_command_profile([args.kira_bench, "render", "--megabytes", "5", "--repeat", "3"])
    filesystem = subprocess.run(["df", "-T", os.path.join(ROOT, ".build-bench")], stdout=subprocess.PIPE, text=True).stdout.splitlines()[-1].split()
    save["filesystem"] = f"{filesystem[1]} ({filesystem[0]})" if len(filesystem) > 1 else "unknown"
    return {"render": render, "render_profile": render_profile, "save": save, "object": json_object, "load": load_average()}


def emulator_start_times(args, runs):
    log("the emulator's time to ready")
    samples = []
    for index in range(runs + 1):
        process, _, ready = start_emulator(args.binary)
        stop(process)
        if index > 0:
            samples.append(ready)
    return samples


# ── 5. from a fresh clone to the first frame ─────────────────────────────────────────────────────

PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (Compiling|Emitting module|Linking|Write|Wrapping AST|Planning|Merging module|Generating|Running) ?(\S*)")


def module_packages(clone):
    """(module name → package, C source file name → package) for the clone and its checked-out dependencies."""
    owners, files = {}, {}
    for name in os.listdir(os.path.join(clone, "Sources")):
        owners[name] = "kira-walkthrough"
    checkouts = os.path.join(clone, ".build", "checkouts")
    for package in sorted(os.listdir(checkouts)) if os.path.isdir(checkouts) else []:
        sources = os.path.join(checkouts, package, "Sources")
        if os.path.isdir(sources):
            for name in os.listdir(sources):
                owners.setdefault(name, package)
        for directory, _, names in os.walk(os.path.join(checkouts, package)):
            for name in names:
                if name.endswith((".c", ".cc", ".cpp", ".S", ".m")):
                    files.setdefault(name, package)
    return owners, files


def fresh_clone(args, venv_python):
    """`git clone` of this commit, `swift build` of kira-walkthrough, then `swift run` to its first frame.

    Timed step by step, with the build's progress lines time-stamped as they come, so the build's
    wall time can be shared out among the packages it compiles (the step printed at the end of each
    interval takes the interval; with two jobs at a time this is an apportionment, not a profile).
    """
    log("from a fresh clone to the first frame (git clone, swift package resolve, swift build, swift run)")
    place = tempfile.mkdtemp(prefix="kira-fresh-clone-")
    clone = os.path.join(place, "kira-walkthrough")
    # A dependency cache of its own, empty: what a newcomer's machine has. With no network the
    # run falls back on the shared cache and says so.
    cache = os.path.join(place, "swiftpm-cache")
    result = {"cache": "empty (a cache path of its own)"}
    try:
        started = time.monotonic()
        subprocess.run(["git", "clone", "--quiet", "--no-local", ROOT, clone], check=True, timeout=600)
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], stdout=subprocess.PIPE, text=True).stdout.strip()
        subprocess.run(["git", "-C", clone, "checkout", "--quiet", head], check=True, timeout=120)
        result["clone_s"] = time.monotonic() - started

        began = time.monotonic()
        resolve = subprocess.run(["swift", "package", "--package-path", clone, "--cache-path", cache, "resolve"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
        if resolve.returncode != 0:
            result["cache"] = "the shared SwiftPM cache (resolving with an empty one failed: no network?)"
            shutil.rmtree(os.path.join(clone, ".build"), ignore_errors=True)
            began = time.monotonic()
            resolve = subprocess.run(["swift", "package", "--package-path", clone, "resolve"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
            if resolve.returncode != 0:
                raise RuntimeError(f"swift package resolve failed: {resolve.stdout[-2000:]}")
        result["resolve_s"] = time.monotonic() - began
        result["packages"] = len(os.listdir(os.path.join(clone, ".build", "checkouts")))

        # The build, its progress lines stamped on arrival.
        began = time.monotonic()
        build = subprocess.Popen(["swift", "build", "--package-path", clone, "--product", "kira-walkthrough"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        STARTED.append(build)
        stamped = []
        for line in build.stdout:
            stamped.append((time.monotonic() - began, line.rstrip("\n")))
        build.wait(timeout=60)
        STARTED.remove(build)
        result["build_s"] = time.monotonic() - began
        if build.returncode != 0:
            raise RuntimeError("swift build failed: " + "\n".join(line for _, line in stamped[-20:]))
        owners, files = module_packages(clone)

        def owner_of(match):
            kind, name = match.group(3), match.group(4)
            if kind == "Linking":
                return "linking"
            if kind in ("Compiling", "Emitting module", "Wrapping AST", "Merging module"):
                # Swift steps name the module; C steps name the file.
                return owners.get(name) or files.get(name) or "other (plugins, tools)"
            return "other (planning, generated files)"

        progress = [(at, PROGRESS.match(line)) for at, line in stamped]
        progress = [(at, match) for at, match in progress if match]
        first_at = progress[0][0] if progress else result["build_s"]
        shares = {"planning (before the first build step)": first_at}
        steps = {}
        previous = first_at
        for at, match in progress:
            owner = owner_of(match)
            shares[owner] = shares.get(owner, 0.0) + at - previous
            steps[owner] = steps.get(owner, 0) + 1
            previous = at
        shares["after the last progress line"] = result["build_s"] - previous
        result["shares"] = sorted(((owner, seconds, steps.get(owner, 0)) for owner, seconds in shares.items() if seconds > 0.05),
                                  key=lambda item: -item[1])
        result["steps_total"] = max((int(match.group(2)) for _, match in progress), default=0)

        # `swift run` (an up-to-date check, then the program) to the first frame on a pty.
        state = tempfile.mkdtemp(dir=SCRATCH)
        command, env = ours_tui(args.binary, state)
        command = ["swift", "run", "--package-path", clone, "kira-walkthrough", *command[1:]]
        frame = pty_run(venv_python, OURS_MARKERS, command, env, timeout=600)
        if frame["first_frame_ms"] is None:
            raise RuntimeError(f"swift run: no first frame: {frame}")
        result["run_s"] = frame["first_frame_ms"] / 1000
        result["total_s"] = result["clone_s"] + result["resolve_s"] + result["build_s"] + result["run_s"]
        result["load"] = load_average()
        return result
    finally:
        shutil.rmtree(place, ignore_errors=True)
        # SwiftPM's lock files for the clone's paths, left in the temporary directory.
        for lock in glob.glob(os.path.join(tempfile.gettempdir(), place.replace("/", "_") + "_*.lock")):
            os.remove(lock)


def fresh_clone_lines(fresh):
    """The section on the fresh clone, every sentence from the run's own figures."""
    total = fresh["total_s"]
    lines = [
        "From nothing to the first frame, as a newcomer meets it: `git clone` of this commit, `swift package resolve`",
        f"(dependency cache: {fresh['cache']}), `swift build --product kira-walkthrough` (debug, cold), then",
        "`swift run kira-walkthrough` (its up-to-date check, then the program) until the first frame is on a 120×35",
        "pseudo-terminal, as in \"Time to first frame\". One run; the machine's load during it is in \"The run\".",
        "",
        "| Step | Wall time | Share |",
        "|---|---|---|",
    ]
    for key, label in (("clone_s", "git clone"), ("resolve_s", f"swift package resolve ({fresh['packages']} packages)"),
                       ("build_s", f"swift build ({fresh['steps_total']} build steps)"), ("run_s", "swift run to the first frame")):
        lines.append(f"| {label} | {fresh[key]:.1f} s | {fresh[key] / total * 100:.0f}% |")
    lines.append(f"| **fresh clone to first frame** | **{total:.1f} s** ({total / 60:.1f} min) | |")
    lines += ["", "The build's wall time shared out by package (each interval between two progress lines goes to the step",
              "printed at its end; with two compile jobs at a time this apportions the time, it does not measure it):", "",
              "| Package | Wall time | Build steps |", "|---|---|---|"]
    for owner, seconds, count in fresh["shares"]:
        lines.append(f"| {owner} | {seconds:.1f} s ({seconds / fresh['build_s'] * 100:.0f}%) | {count} |")
    ours = sum(seconds for owner, seconds, _ in fresh["shares"] if owner == "kira-walkthrough")
    others = [(owner, seconds) for owner, seconds, _ in fresh["shares"]
              if owner not in ("kira-walkthrough", "linking") and not owner.startswith(("other", "before"))]
    if others:
        top, top_seconds = others[0]
        dependencies = sum(seconds for _, seconds in others)
        lines += ["", f"The dependencies take {dependencies:.0f} s of the {fresh['build_s']:.0f} s build, this package's own modules "
                  f"{ours:.0f} s. The largest, `{top}`, takes {top_seconds:.0f} s ({top_seconds / total * 100:.0f}% of the whole "
                  f"clone to first frame)."]
        cost = DEPENDENCY_COST.get(top)
        if top_seconds / max(1e-9, fresh["build_s"]) >= 0.25:
            lines += [f"It dominates the build. {cost}" if cost else "It dominates the build."]
        elif cost:
            lines += [f"No single dependency dominates; the largest, if it went: {cost}"]
    return lines


# What dropping or replacing a dependency would cost, by package (the reasoning; the seconds above
# are the run's).
DEPENDENCY_COST = {
    "swift-nio": "SwiftNIO is the ground under Hummingbird (the emulator and the webhook listener) and AsyncHTTPClient "
                 "(the client): dropping it means an emulator and an HTTP client on something else, e.g. Foundation's "
                 "URLSession for the client (FoundationNetworking, libcurl; no HTTP/2, weaker timeouts) and a small "
                 "hand-written HTTP/1.1 server on sockets for the emulator, a rewrite of both network layers and their tests.",
    "swift-crypto": "swift-crypto (BoringSSL in C, compiled from source) serves the HMAC webhook signatures and tokens: "
                    "a hand-written HMAC-SHA256 over a small SHA-256 would replace it, some 200 lines with test vectors, "
                    "but AsyncHTTPClient pulls in swift-nio-ssl (BoringSSL again) for HTTPS to the real sandbox.",
    "swift-nio-ssl": "swift-nio-ssl (BoringSSL) comes with AsyncHTTPClient for HTTPS to the real sandbox; a client on "
                     "URLSession (FoundationNetworking, libcurl, the system's TLS) would drop it at the price of the "
                     "client's rewrite.",
    "hummingbird": "Hummingbird is the emulator's and the webhook listener's router: replacing it with a router of our own on "
                   "NIO would keep SwiftNIO's build cost and save only Hummingbird's own modules.",
    "async-http-client": "AsyncHTTPClient is the client; URLSession (FoundationNetworking) would replace it, dropping "
                         "swift-nio-ssl and parts of NIO's HTTP stack, at the price of the client's rewrite and weaker "
                         "timeout control.",
    "Yams": "Yams (libyaml in C plus its Swift layer) reads the flows: flows in JSON, or a YAML subset reader of our own "
            "that keeps line and column for the linter's messages, would replace it.",
    "swift-argument-parser": "swift-argument-parser parses the command line: a hand-written parser would replace it, at "
                             "the price of help texts and shell completions.",
}


# ── why a goal was missed: explanations computed from this run's own evidence ───────────────────


def first_frame_miss(frames, ours_ms, posting_ms):
    """The first frame's miss, split into time on a CPU and time queued for one."""
    cpu = [pair[0] for pair in frames.get("schedule", {}).get("ours", []) if pair[0] is not None]
    queued = [pair[1] for pair in frames.get("schedule", {}).get("ours", []) if pair[1] is not None]
    lines = ["", f"**Goal missed** on this run ({ours_ms:.0f} ms; posting {posting_ms:.0f} ms)."]
    if cpu and queued:
        on_cpu, waiting = statistics.median(cpu), statistics.median(queued)
        if on_cpu <= 100 and waiting > 0 and ours_ms > 100:
            lines.append(f"By its first frame the process had spent {on_cpu:.0f} ms on a CPU (all its threads) and {waiting:.0f} ms "
                         f"waiting for one (medians): its own work fits in the goal, the rest is the machine's load "
                         f"({frames['load']} during the section).")
        else:
            lines.append(f"By its first frame the process had spent {on_cpu:.0f} ms on a CPU (all its threads) and {waiting:.0f} ms "
                         "waiting for one (medians): its own start-up work is over the goal.")
    return lines


def library_group(name):
    """What a mapping is, for the memory breakdown."""
    if name in ("[anonymous]", "[heap]") or name.startswith("[stack"):
        return "heap, stacks and other anonymous memory"
    if name.startswith("kira-walkthrough"):
        return "the kira-walkthrough binary"
    if name.startswith(("libFoundation", "lib_FoundationICU", "libFoundationEssentials", "libFoundationInternationalization")):
        return "Foundation and its ICU data (shared libraries)"
    if name.startswith(("libswift", "libdispatch", "libBlocksRuntime")):
        return "the Swift runtime and Dispatch (shared libraries)"
    return "the system's libraries (libc, libstdc++, ncursesw, …) and the rest"


def linkage(binary):
    """The Swift and Foundation shared libraries `binary` needs (empty for a static build)."""
    try:
        out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted({line.split()[0] for line in out.splitlines() if re.match(r"\s*lib(swift|Foundation|_Foundation|dispatch)", line)})


def tui_memory_miss(args, breakdown, peak_kb):
    """The TUI's peak RSS miss: where the resident pages are, by kind."""
    groups = {}
    for name, kb in breakdown.get("all_mappings", breakdown["mappings"]):
        groups[library_group(name)] = groups.get(library_group(name), 0) + kb
    rollup = breakdown["rollup"]
    dynamic = linkage(args.binary)
    lines = ["", f"**Goal missed** by {mib(peak_kb - 40e6 / 1024)} (peak {mib(peak_kb)}). The resident pages at the end of the "
             "walkthrough, by kind (from the same `/proc/PID/smaps`):", "", "| Kind | Resident | Share |", "|---|---|---|"]
    total = sum(groups.values()) or 1
    for group, kb in sorted(groups.items(), key=lambda item: -item[1]):
        lines.append(f"| {group} | {mib(kb)} | {kb / total * 100:.0f}% |")
    lines.append("")
    if dynamic is None:
        lines.append("(`ldd` could not say how the binary is linked.)")
    elif dynamic:
        lines.append(f"The binary links {len(dynamic)} Swift and Foundation libraries dynamically ({', '.join(dynamic)}): each is "
                     "mapped whole and its relocated and touched pages count, whether the walkthrough uses them or not; "
                     "`--static-swift-stdlib` keeps only the pages used.")
    else:
        lines.append("The binary is linked statically (`--static-swift-stdlib`: no Swift or Foundation shared library), so the "
                     "file-backed pages above are the code and data the run touched.")
    anonymous = rollup.get("Anonymous", 0)
    lines.append(f"{mib(anonymous)} of the {mib(rollup.get('Rss', 0))} is anonymous memory (the heap with the embedded emulator's "
                 f"state and the session, and {breakdown['threads']} threads' stacks); the rest is file-backed.")
    return lines


def emulator_memory_miss(memory, faults=None):
    """The emulator's memory growth under GETs: where it grew, and whether it keeps growing."""
    first, second = memory[0], memory[1]
    lines = ["", f"**Goal missed**: resident memory grew by {second['rss_kb'] - first['rss_kb']:,} kB between "
             f"{first['after']:,} and {second['after']:,} GETs ({second['anon_kb'] - first['anon_kb']:+,} kB anonymous)."]
    before, after = dict(first.get("mappings", [])), dict(second.get("mappings", []))
    deltas = sorted(((name, after.get(name, 0) - before.get(name, 0)) for name in set(before) | set(after)), key=lambda item: -abs(item[1]))
    deltas = [(name, delta) for name, delta in deltas if delta][:8]
    if deltas:
        lines += ["Where it grew (`/proc/PID/smaps`, resident kB by mapping):", "", "| Mapping | Change |", "|---|---|"]
        lines += [f"| `{name}` | {delta:+,} kB |" for name, delta in deltas]
    if faults and faults["total"]:
        lines += ["", f"The pages it touched for the first time between the two readings: {faults['total']} page faults of the "
                  "emulator (`perf record -e page-faults -c 1 -d`, one sample a fault, DWARF call chains), by the mapping "
                  "the faulting address lies in:", "", "| Mapping | Faults |", "|---|---|"]
        lines += [f"| `{place}` | {count} |" for place, count in faults["places"]]
        lines += ["", "and by the faulting function and the first caller outside the allocator:", "",
                  "| Faults | Faulting function | Caused by |", "|---|---|---|"]
        lines += [f"| {count} | `{leaf}` | `{cause}` |" for (leaf, cause), count in faults["causes"]]
        in_malloc = sum(count for (leaf, _), count in faults["causes"] if "malloc" in leaf)
        if in_malloc:
            lines += ["", f"{in_malloc} of {faults['total']} are in the C allocator itself (`sysmalloc`, `_int_malloc`): "
                      "fresh pages for its arenas, taken for the short-lived allocations named beside them."]
    elif faults is not None:
        lines += ["", "`perf` recorded no page fault of the emulator during those GETs."]
    # Growth per 100,000 GETs in each later interval: does it level off?
    rates = []
    for earlier, later in zip(memory[1:], memory[2:]):
        served = max(1, later["after"] - earlier["after"])
        rates.append((earlier["after"], later["after"], (later["rss_kb"] - earlier["rss_kb"]) * 100_000 / served))
    if rates:
        first_rate = (second["rss_kb"] - first["rss_kb"]) * 100_000 / max(1, second["after"] - first["after"])
        lines += ["", "Growth per 100,000 GETs: " + f"{first_rate:+.0f} kB from {first['after']:,} to {second['after']:,}; "
                  + "; ".join(f"{rate:+.0f} kB from {start:,} to {end:,}" for start, end, rate in rates) + "."]
        last = rates[-1][2]
        if last <= max(0, first_rate) / 4:
            lines.append("The later intervals grow by at most a quarter of the first: the growth levels off (allocator arenas and "
                         "buffer pools reaching their working size), it is not a record kept per request.")
        else:
            per_request = last * 1024 / 100_000
            lines.append(f"The later intervals keep growing, {per_request:.2f} bytes per request in the last one: either a "
                         "record kept per request or the allocator still settling; this run cannot tell them apart, a "
                         "longer one can (a record grows in every interval, the allocator in steps).")
    return lines


def render_miss(render, profile):
    """The 5 MB render's miss: its phases, and where the CPU went (perf) when perf works here."""
    phases = sorted(((key, float(render[key]["median_ms"])) for key in ("parse", "pretty_print", "split_lines")), key=lambda item: -item[1])
    total = float(render["first_screen_total"]["median_ms"])
    names = {"parse": "parsing (KiraJSON)", "pretty_print": "pretty-printing", "split_lines": "splitting into lines"}
    lines = ["", f"**Goal missed** by {total - 200:.0f} ms. Of the {total:.0f} ms, " + ", ".join(
        f"{names[key]} takes {value:.0f} ms ({value / total * 100:.0f}%)" for key, value in phases)
        + f"; the first screen itself {float(render['first_render']['median_ms']):.1f} ms."]
    if profile:
        lines += ["", "Where the CPU goes (`perf record -F 999 -g` on `KiraBench render`, self time by symbol, ≥ 1.5%):", "",
                  "| Share | Object | Symbol |", "|---|---|---|"]
        lines += [f"| {share:.1f}% | `{dso}` | `{symbol[:110]}` |" for share, dso, symbol in profile["symbols"]]
    else:
        lines.append("(`perf` could not profile `KiraBench render` on this machine.)")
    return lines


def save_steps(save, save_ms):
    """The save's steps, timed one by one (KiraBench save), and for a miss the share of each."""
    steps = save.get("steps")
    if not steps:
        return ["", "**Goal missed.**"] if save_ms > 2 else []
    labels = (("directory_check", "check that the state directory is there (a `stat`)"), ("encode", "encode the session"),
              ("open_write", "open the temporary file and write"), ("fsync_file", "fsync the file"),
              ("close_rename", "close, rename over the session"), ("fsync_directory", "open and fsync the directory"))
    lines = ["", "The same steps timed one by one (the system calls of `AtomicFile.replace`, in the same process):", "",
             "| Step | Median | p10 | p90 |", "|---|---|---|---|"]
    for key, label in labels:
        if key in steps:
            entry = steps[key]
            lines.append(f"| {label} | {float(entry['median_ms']):.3f} ms | {float(entry['p10_ms']):.3f} ms | {float(entry['p90_ms']):.3f} ms |")
    if save_ms > 2:
        medians = {key: float(steps[key]["median_ms"]) for key, _ in labels if key in steps}
        durable = medians.get("fsync_file", 0) + medians.get("fsync_directory", 0)
        lines += ["", f"**Goal missed** ({save_ms:.2f} ms). The two fsyncs take {durable:.2f} ms of the steps' "
                  f"{sum(medians.values()):.2f} ms: they make the save crash-safe, and their time is the disk's "
                  f"(queued behind other writers on a busy machine); the rest is ours."]
    return lines


def perf_command_profile(command, timeout=600):
    """Self time by symbol of a whole command under `perf record -g` (None when perf does not work here)."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(SCRATCH, "perf-command.data")
    recorded = subprocess.run(["perf", "record", "-F", "999", "-g", "-o", data, "--", *command], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout)
    if recorded.returncode != 0 or not os.path.exists(data):
        return None
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol", "--percent-limit", "1.5",
                             "-g", "none"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=300).stdout
    rows = []
    for line in report.splitlines():
        match = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+\[\.\]\s+(.*)$", line)
        if match:
            rows.append((float(match.group(1)), match.group(2), demangle(re.split(r"\s{2,}", match.group(3).strip())[0])))
    return {"symbols": rows[:20]} if rows else None


# ── the document ─────────────────────────────────────────────────────────────────────────────────


def verdict(ok):
    """`ok` is True, False, or None for a figure reported without a goal."""
    if ok is None:
        return "—"
    return "**met**" if ok else "**missed**"


def write_document(path, context, results):
    m = context["machine"]
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("Written by `bench/run` (one command; it installs what it needs, builds the release binaries into")
    add("`.build-release`, measures, and rewrites this file). Every figure below comes from one run on one")
    add("machine; medians, with (min–max, n) after them. These are benchmarks, not tests: nothing here runs")
    add("under `swift test`.")
    add("")
    add("## The run")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| Date | {context['date']} (took {context['duration_s']:.0f} s) |")
    add(f"| Commit | `{m['commit']}` |")
    reasons = []
    if m["dirty"]:
        reasons.append("the tree had uncommitted changes (`--allow-dirty`)")
    if context.get("quick"):
        reasons.append("a quick (smoke) run, fewer repetitions")
    if context["other_builds"]:
        reasons.append(f"{len(context['other_builds'])} build processes of other work were running at the start")
    if not context.get("fresh"):
        reasons.append("the fresh-clone figure was not measured")
    add(f"| Status | {'final: every figure from this run, at this commit, on a quiet machine' if not reasons else '**not final**: ' + '; '.join(reasons)} |")
    add(f"| Binaries | `swift build {context.get('build_flags', '')}` |")
    add(f"| Machine | {m['cpus']} × {m['cpu']}, {m['memory_gib']} GiB, {m['os']}, Linux {m['kernel']} |")
    add(f"| Toolchain | {m['swift']}; Python {m['python']}; {context['tools']} |")
    add(f"| Load average (1, 5, 15 min) | at the start {context['load_start']}; during each section: {context['loads']} |")
    builds = context["other_builds"]
    add(f"| Other builds running | {'none' if not builds else str(len(builds)) + ' compiler/build processes of other work were running at the start: the figures are skewed by them (see the load average)'} |")
    add("")

    goals = results["goals"]
    add("## Goals")
    add("")
    add("| What | Goal | Measured | |")
    add("|---|---|---|---|")
    for goal in goals:
        add(f"| {goal['what']} | {goal['goal']} | {goal['measured']} | {verdict(goal['ok'])} |")
    add("")
    missed = [goal for goal in goals if goal["ok"] is False]
    if missed:
        add("Missed: " + "; ".join(goal["what"] for goal in missed) + ". Why, with the evidence this run gathered (a memory")
        add("breakdown, a profile or a step-by-step timing), is under each section below; the goals stay as they are.")
    else:
        add("Every goal is met on this run.")
    add("")
    for section in results["sections"]:
        add(f"## {section['title']}")
        add("")
        for line in section["lines"]:
            add(line)
        add("")
    with open(path, "w") as out:
        out.write("\n".join(lines).rstrip() + "\n")


def schedule_cell(frames, who, field):
    values = [pair[field] for pair in frames.get("schedule", {}).get(who, []) if pair[field] is not None]
    return f"{statistics.median(values):.0f} ms" if values else "n/a"


def mib(kb):
    """kB (KiB, as /proc says) in MB of 10^6 bytes, the unit of the goals."""
    return f"{kb * 1024 / 1e6:.1f} MB"


# ── the coach's overhead per request ────────────────────────────────────────────────────────────


def coach_overhead(args, quick):
    """`coach --plain` (request log, masking, facts, plain lines to a file) against `sandbox serve`,
    wrk on the same authenticated GET, alternating servers run by run, in this same run.

    Self-contained: returns {"goal": {...}, "section": {...}} for the document."""
    log("the coach's overhead per request")

    def start(command):
        out = open(os.path.join(SCRATCH, f"coach-{len(STARTED)}.out"), "w+")
        process = subprocess.Popen([args.binary, *command, "--host", "127.0.0.1", "--port", "0"], stdout=out,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=ROOT)
        STARTED.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out.seek(0)
            first = out.readline()
            if "ready at" in first:
                for name in ("KIRA_API_KEY", "KIRA_CLIENT_ID", "KIRA_PASSWORD"):
                    CREDENTIALS[name] = re.search(name + r"=(\S+)", first).group(1)
                return process, re.search(r"(http://127\.0\.0\.1:\d+/sandbox)", first).group(1)
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}")
            time.sleep(0.005)
        raise RuntimeError(f"{command[0]} did not print its readiness line within 30 s")

    servers = {}
    for name, command in (("serve", ["sandbox", "serve"]), ("coach", ["coach", "--plain"])):
        process, base = start(command)
        token = authenticate(base)
        user = http("POST", base + "/v1/users",
                    {"type": "individual", "first_name": "Ada", "last_name": "Lovelace", "email": "bench-coach@example.com",
                     "source_of_funds": "salary"},
                    {"x-api-key": CREDENTIALS["KIRA_API_KEY"], "Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())})
        servers[name] = {"process": process, "url": f"{base}/v1/users/{user['id']}", "token": token, "runs": []}
    seconds = 5 if quick else 10
    for _ in range(2 if quick else 4):
        for name in ("serve", "coach"):
            server = servers[name]
            server["runs"].append(wrk("get_user.lua", server["url"], server["token"], 1, 16, seconds))
    for server in servers.values():
        stop(server["process"])

    def median(name, pick):
        return statistics.median(pick(run) for run in servers[name]["runs"])

    serve_rps, coach_rps = median("serve", lambda r: r["rps"]), median("coach", lambda r: r["rps"])
    serve_p99, coach_p99 = median("serve", lambda r: r["latency_us"]["p99"] / 1000), median("coach", lambda r: r["latency_us"]["p99"] / 1000)
    errors = sum(run["error_total"] for server in servers.values() for run in server["runs"])
    # Per request: the extra time a request costs at full load, from the throughputs.
    overhead = (serve_rps / coach_rps - 1) * 100 if coach_rps else float("inf")
    extra_us = (1e6 / coach_rps - 1e6 / serve_rps) if coach_rps and serve_rps else float("inf")
    ok = overhead <= 10 and coach_rps >= 8000 and errors == 0
    goal = {"what": "Coach: overhead per request vs `sandbox serve`", "goal": "≤ 10 % at ≥ 8,000 requests/s",
            "measured": f"{overhead:+.1f} % ({coach_rps:,.0f} vs {serve_rps:,.0f} requests/s, {extra_us:+.1f} µs per request)", "ok": ok}
    lines = [
        "`kira-walkthrough coach --plain` (request log of 1,000, masking, facts, one line per request to a file) and",
        "`sandbox serve`, both with default knobs, under `wrk -t1 -c16` on `bench/get_user.lua` (authenticated",
        f"`GET /v1/users/{{id}}`), {seconds} s per run, the two servers alternating run by run, medians:",
        "",
        "| Server | Requests/s | p99 | Runs |",
        "|---|---|---|---|",
        f"| `sandbox serve` | {serve_rps:,.0f} | {serve_p99:.1f} ms | {len(servers['serve']['runs'])} |",
        f"| `coach --plain` | {coach_rps:,.0f} | {coach_p99:.1f} ms | {len(servers['coach']['runs'])} |",
        "",
        f"Overhead: {overhead:+.1f} % ({extra_us:+.1f} µs per request); {errors} errors.",
    ]
    if not ok:
        lines += ["", "**Goal missed.**"]
    return {"goal": goal, "section": {"title": "The coach's overhead per request", "lines": lines}, "load": load_average()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--kira-bench", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run; the document says so)")
    parser.add_argument("--wait-for-builds", type=int, default=600, help="longest wait, in seconds, for other builds to finish")
    parser.add_argument("--fresh-clone", action="store_true", help="measure a fresh clone to the first frame (the default without --quick)")
    parser.add_argument("--no-fresh-clone", action="store_true", help="leave the fresh-clone figure out of a full run")
    parser.add_argument("--allow-dirty", action="store_true", help="measure a tree with uncommitted changes (the document says not final)")
    parser.add_argument("--build-flags", default="-c release", help="how the measured binaries were built (for the document)")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    args.kira_bench = os.path.abspath(args.kira_bench)
    args.venv = os.path.abspath(args.venv)
    venv_python = os.path.join(args.venv, "bin", "python")
    began = time.monotonic()

    still = wait_for_quiet_machine(args.wait_for_builds)
    context = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "load_start": load_average(), "other_builds": still,
    }
    wrk_version = subprocess.run(["wrk", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout.splitlines()
    versions = subprocess.run([venv_python, "-c", "import importlib.metadata as m;print(' '.join(f'{p} {m.version(p)}' for p in ('posting','textual','tavern','pytest','pyte')))"],
                              stdout=subprocess.PIPE, text=True).stdout.strip()
    curl_version = subprocess.run(["curl", "--version"], stdout=subprocess.PIPE, text=True).stdout.split("\n")[0].split(" ")[:2]
    context["tools"] = f"{(wrk_version or ['wrk'])[0].split(' [')[0]}; {' '.join(curl_version)}; {versions}"
    quick = args.quick
    loads = []

    fresh_wanted = (args.fresh_clone or not quick) and not args.no_fresh_clone
    if context["machine"]["dirty"] and not args.allow_dirty and not quick:
        raise SystemExit("bench.py: the tree has uncommitted changes; commit them, or pass --allow-dirty (the document then says not final)")
    frames = first_frames(args, venv_python, 3 if quick else 5)
    loads.append(f"first frame {frames['load']}")
    walk = tui_walkthroughs(args, venv_python, 2 if quick else 3)
    loads.append(f"TUI walkthrough {walk['load']}")
    quick_runs = quickstarts(args, venv_python, 3 if quick else 7)
    loads.append(f"quickstart {quick_runs['load']}")
    load = emulator_under_load(args, quick)
    loads.append(f"wrk {load['load']}")
    coach = coach_overhead(args, quick)
    loads.append(f"coach {coach['load']}")
    starts = emulator_start_times(args, 3 if quick else 5)
    inproc = kira_bench(args, quick_runs["sessions"])
    loads.append(f"render/save {inproc['load']}")
    fresh = fresh_clone(args, venv_python) if fresh_wanted else None
    if fresh:
        loads.append(f"fresh clone {fresh['load']}")
    context["loads"] = "; ".join(loads)

    goals, sections = [], []

    # First frame.
    ours_ms = statistics.median(frames["ours"]) * 1000
    posting_ms = statistics.median(frames["posting"]) * 1000
    goals.append({"what": "Time to first frame, 120×35", "goal": "≤ 100 ms and ≤ 1/10 of posting's",
                  "measured": f"{ours_ms:.0f} ms; posting {posting_ms:.0f} ms (ratio 1/{posting_ms / ours_ms:.0f})",
                  "ok": ours_ms <= 100 and ours_ms * 10 <= posting_ms})
    sections.append({"title": "Time to first frame", "lines": [
        "From the spawn to the moment the whole first screen is on a 120×35 pseudo-terminal, read by a",
        "`pyte` screen (`bench/pty_frame.py`): for kira-walkthrough (no credentials: the full-screen UI on",
        "the embedded emulator, a fresh `--state-dir`) its header's `LOCAL EMULATOR` and its footer's `quit`",
        "together; for posting (an empty collection, a fresh `HOME`) its footer `^c Quit` and the response",
        "pane's `Wrap`, which Textual draws last. One warm-up of each, then runs alternating.",
        "",
        "| Program | First frame | on a CPU by then | queued for a CPU by then |",
        "|---|---|---|---|",
        f"| kira-walkthrough | {spread(frames['ours'])} | {schedule_cell(frames, 'ours', 0)} | {schedule_cell(frames, 'ours', 1)} |",
        f"| posting {versions.split()[1] if versions else ''} | {spread(frames['posting'])} | {schedule_cell(frames, 'posting', 0)} | "
        f"{schedule_cell(frames, 'posting', 1)} |",
        "",
        f"Ratio of the medians: posting takes {posting_ms / ours_ms:.1f}× as long. The last two columns are the",
        "process's threads' time on a CPU and time waiting in the run queue up to the first frame",
        "(`/proc/PID/task/*/schedstat`, medians): on a busy machine the second is where a missed goal goes.",
    ] + (first_frame_miss(frames, ours_ms, posting_ms) if not (ours_ms <= 100 and ours_ms * 10 <= posting_ms) else [])})

    # TUI memory.
    hwms = [run["vm_hwm_kb"] for run in walk["runs"]]
    tui_ok = max(hwms) * 1024 <= 40e6
    tui_lines = [
        "Peak resident memory (`VmHWM`) of the TUI process, read from `/proc/PID/status` just before `q`,",
        "after a whole walkthrough driven by Enter in the pseudo-terminal (seven steps, the embedded",
        "emulator in the same process, the operator remedy for the user's review).",
        "",
        "| Run | Peak RSS | Walkthrough took | Enter presses |",
        "|---|---|---|---|",
    ]
    for number, run in enumerate(walk["runs"], 1):
        tui_lines.append(f"| {number} | {mib(run['vm_hwm_kb'])} | {run['walkthrough_s']:.1f} s | {run['enter_presses']} |")
    breakdown = tui_memory_breakdown(args)
    tui_lines += ["", f"Where it lives (one more walkthrough, `/proc/PID/smaps` at the end, {breakdown['threads']} threads):", "",
                  "| Mapping | Resident |", "|---|---|"]
    for name, kb in breakdown["mappings"]:
        tui_lines.append(f"| `{name}` | {mib(kb)} |")
    rollup = breakdown["rollup"]
    if rollup:
        tui_lines += ["", f"Of the {mib(rollup.get('Rss', 0))} resident: {mib(rollup.get('Anonymous', 0))} anonymous (heap, stacks), "
                      f"{mib(rollup.get('Rss', 0) - rollup.get('Anonymous', 0))} file-backed (the binary and the shared libraries, "
                      f"{mib(rollup.get('Shared_Clean', 0))} of it shared clean)."]
    goals.append({"what": "Peak RSS of the TUI, whole walkthrough", "goal": "≤ 40 MB",
                  "measured": f"{mib(statistics.median(hwms))} (max {mib(max(hwms))})", "ok": tui_ok})
    if not tui_ok:
        tui_lines += tui_memory_miss(args, breakdown, max(hwms))
    sections.append({"title": "Peak memory of the TUI through a walkthrough", "lines": tui_lines})

    # Quickstart.
    times = quick_runs["times"]
    pair = lambda a, b: [x / y for x, y in zip(times[a], times[b])]
    ratio_curl = pair("ours", "curl")
    ratio_tavern = pair("ours", "tavern")
    ratio_replay = pair("ours", "replay")
    curl_ok = statistics.median(ratio_curl) <= 1.0
    goals.append({"what": "Headless quickstart vs a plain curl script", "goal": "ours no slower (ratio ≤ 1)",
                  "measured": f"ours {statistics.median(times['ours']) * 1000:.0f} ms, curl {statistics.median(times['curl']) * 1000:.0f} ms, "
                              f"ratio {statistics.median(ratio_curl):.2f}", "ok": curl_ok})
    ql = [
        "The whole quickstart, headless, twelve requests, against one running emulator",
        "(`sandbox serve --auto-verify-after 0 --va-ready-after 0`), wall time of the whole process:",
        "",
        "- **ours**: `kira-walkthrough run --plain --yes --target URL` with a fresh `--state-dir` (it saves the",
        "  session, atomically with fsync, after every transition, and checks every answer against the flow);",
        "- **curl**: `bench/quickstart.curl.sh`, the plain curl script: the same twelve requests with the same",
        "  bodies, one `curl` per request, `jq` for the ids, each status checked, and the user polled on the",
        "  flow's own schedule (1 s, then 1.5× longer; the docs' cadence, which the coach also asks for), so both",
        "  send the same requests at the same moments. This is the fair baseline, and the one the goal is judged",
        "  on; until 2026-12-07 it polled every 100 ms, which measured the polling cadence rather than the tool. (`Tests/KiraSandboxTests/Scripts/quickstart-curl.sh` is not: it",
        "  sleeps 3.5 s on purpose and exercises quirks with extra requests);",
        "- **replay**: the script `kira-walkthrough export --format curl` writes from a finished session (same",
        "  requests, plus the flow's checks and quirk handling in bash and jq);",
        "- **tavern**: `bench/quickstart.tavern.yaml` under `tavern-ci` (pytest), the same requests and checks,",
        "  but the user polled every 100 ms (tavern's retries have a fixed delay, no backoff).",
        "",
        "One warm-up round, then rounds in rotating order; ratios are taken pair by pair within a round.",
        "",
        "| Contender | Wall time |",
        "|---|---|",
    ]
    for name in ("ours", "curl", "replay", "tavern"):
        ql.append(f"| {name} | {spread(times[name])} |")
    ql += ["", "| Ratio (pair by pair) | Median | Range |", "|---|---|---|"]
    for label, ratios in (("ours / curl", ratio_curl), ("ours / replay", ratio_replay), ("ours / tavern", ratio_tavern)):
        ql.append(f"| {label} | {statistics.median(ratios):.2f} | {min(ratios):.2f}–{max(ratios):.2f} |")
    if not curl_ok:
        ql += ["", f"**Goal missed**: ours is slower than the plain curl script in {sum(r > 1 for r in ratio_curl)} of "
               f"{len(ratio_curl)} rounds (ratio {statistics.median(ratio_curl):.2f}); the load during the section was {quick_runs['load']}."]
    sections.append({"title": "The quickstart, headless", "lines": ql})

    # Emulator under wrk.
    get_runs = load["get_runs"]
    errors = sum(run["error_total"] for config in get_runs.values() for run in config) + sum(entry["errors"] for entry in load["get_memory"])

    def figures(key):
        sample = get_runs[key]
        return statistics.median(run["rps"] for run in sample), statistics.median(run["latency_us"]["p99"] for run in sample) / 1000

    # The goal names no concurrency: it is met when one wrk configuration meets all of it (and there
    # are no errors anywhere); otherwise the configuration with the most requests/s is shown.
    meeting = [key for key in get_runs if figures(key)[0] >= 8000 and figures(key)[1] < 20]
    best_config = max(meeting or get_runs, key=lambda key: figures(key)[0])
    rps, p99 = figures(best_config)
    get_ok = bool(meeting) and errors == 0
    goals.append({"what": "Emulator: authenticated GET /v1/users/{id}", "goal": "≥ 8,000 requests/s, p99 < 20 ms, no errors",
                  "measured": f"{rps:,.0f} requests/s, p99 {p99:.1f} ms, {errors} errors (wrk {best_config})", "ok": get_ok})
    memory = load["get_memory"]
    mem_ok = memory[1]["rss_kb"] <= memory[0]["rss_kb"]
    goals.append({"what": "Emulator: memory after 100,000 GETs vs after 10,000", "goal": "no higher (bounded state)",
                  "measured": f"{mib(memory[0]['rss_kb'])} → {mib(memory[1]['rss_kb'])} (700,000: {mib(memory[-1]['rss_kb'])})",
                  "ok": mem_ok})
    wl = [
        "`sandbox serve` (default knobs, rate limit off) and `wrk` on the same 2-core machine, so wrk takes CPU",
        "from the server. `bench/get_user.lua`: authenticated `GET /v1/users/{id}` of one user (x-api-key,",
        "bearer token, X-Api-Version). `bench/create_user.lua`: `POST /v1/users`, each with a fresh",
        "Idempotency-Key and a unique email, so each creates a user. wrk counts any status but 2xx/3xx, and",
        "any socket error or timeout (5 s), as an error. The wrk configurations alternate, "
        f"{5 if quick else 10} s a run.",
        "",
        "| Requests | wrk | Requests/s | p50 | p90 | p99 | max | Errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for config, runs in get_runs.items():
        med = lambda key: statistics.median(run["latency_us"][key] for run in runs) / 1000
        wl.append(f"| GET /v1/users/{{id}} | {config} | {statistics.median(r['rps'] for r in runs):,.0f} "
                  f"({min(r['rps'] for r in runs):,.0f}–{max(r['rps'] for r in runs):,.0f}, n={len(runs)}) | {med('p50'):.2f} ms | "
                  f"{med('p90'):.2f} ms | {med('p99'):.2f} ms | {max(r['latency_us']['max'] for r in runs) / 1000:.1f} ms | "
                  f"{sum(r['error_total'] for r in runs)} |")
    posts = load["post_runs"]
    pm = lambda key: statistics.median(run["latency_us"][key] for run in posts) / 1000
    wl.append(f"| POST /v1/users (creates) | -t1 -c16 | {statistics.median(r['rps'] for r in posts):,.0f} "
              f"({min(r['rps'] for r in posts):,.0f}–{max(r['rps'] for r in posts):,.0f}, n={len(posts)}) | {pm('p50'):.2f} ms | "
              f"{pm('p90'):.2f} ms | {pm('p99'):.2f} ms | {max(r['latency_us']['max'] for r in posts) / 1000:.1f} ms | "
              f"{sum(r['error_total'] for r in posts)} |")
    post_memory = load["post_memory"]
    created = post_memory["users_created"]
    growth = post_memory["after_kb"] - post_memory["before_kb"]
    wl += [
        "",
        "Resident memory (`VmRSS`) of the emulator after exactly this many GETs (wrk stops each thread at its",
        "budget), from a fresh start:",
        "",
        "| Requests served | RSS | of which anonymous (heap, stacks) |",
        "|---|---|---|",
        f"| 0 (one user created) | {mib(load['rss_start_kb'])} | |",
    ]
    for entry in memory:
        wl.append(f"| {entry['after']:,} | {mib(entry['rss_kb'])} | {entry['anon_kb']:,} kB |")
    wl += [
        "",
        f"The creating POSTs keep what they create: {created:,} users took the resident size from "
        f"{mib(post_memory['before_kb'])} to {mib(post_memory['after_kb'])} "
        f"({growth / max(1, created) * 1024:.0f} bytes a user, idempotency records included; they expire with their TTL).",
    ]
    if not get_ok and load.get("profile"):
        profile = load["profile"]
        wl += ["", "**Goal missed.** Where the server's CPU goes under the GET load (`perf record -g -F 499` on the",
               "emulator for 5 s of `wrk " + best_config + "`), by shared object:", "", "| Share | Object |", "|---|---|"]
        for share, dso in profile["dsos"]:
            wl.append(f"| {share:.1f}% | `{dso}` |")
        wl += ["", "and the hottest symbols (self time, ≥ 1.5%):", "", "| Share | Object | Symbol |", "|---|---|---|"]
        for share, dso, symbol in profile["symbols"]:
            wl.append(f"| {share:.1f}% | `{dso}` | `{symbol[:110]}` |")
    elif not get_ok:
        wl += ["", "**Goal missed.** (`perf` could not profile the emulator on this machine.)"]
    if not mem_ok:
        wl += emulator_memory_miss(memory, load.get("get_memory_faults"))
    sections.append({"title": "The emulator under wrk", "lines": wl})
    goals.append(coach["goal"])
    sections.append(coach["section"])

    # Peak memory of the emulator.
    emu_hwm = load["emulator_hwm_kb"]
    goals.append({"what": "Peak RSS of the emulator", "goal": "(reported; no goal)",
                  "measured": f"{mib(emu_hwm)} after every wrk run; {mib(quick_runs['emulator_hwm_kb'])} after the quickstart rounds", "ok": None})
    sections.append({"title": "Peak memory of the emulator", "lines": [
        f"`VmHWM` of `sandbox serve`: {mib(quick_runs['emulator_hwm_kb'])} after the {len(times['ours']) * 4 + 6} quickstarts above;",
        f"{mib(emu_hwm)} at the end of the wrk section ({memory[-1]['after']:,} budgeted GETs, the timed GET runs and "
        f"{created:,} created users).",
    ]})

    # Rendering.
    render = inproc["render"]
    first_ms = float(render["first_screen_total"]["median_ms"])
    step_ms = max(float(render["scroll_step"][place]["median_ms"]) for place in render["scroll_step"])
    render_ok = first_ms <= 200 and step_ms <= 5
    goals.append({"what": "5 MB JSON response: pretty-print, colour, first screen; one scroll step", "goal": "≤ 200 ms; ≤ 5 ms",
                  "measured": f"{first_ms:.0f} ms; {step_ms:.2f} ms", "ok": render_ok})
    rl = [
        f"`KiraBench render` (Sources/KiraBench, release build): a {render['bytes'] / 1e6:.1f} MB compact `GET /v1/users` page",
        f"({render['pretty_lines']:,} lines once pretty-printed) shown as a step's response in a {render['width']}×{render['height']}",
        "screen: `PrettyBody(text:)` (parse, pretty-print, split into lines, as the app does when an answer",
        "arrives), then `WalkthroughRenderer.render` of the whole screen with colours (only the visible",
        "lines are coloured). A scroll step is one more line of offset and the whole screen rendered again.",
        "Drawing the grid through ncurses is not included (it diffs 120×35 cells).",
        "",
        "| Phase | Median | p10–p90 |",
        "|---|---|---|",
    ]
    for key, label in (("parse", "parse (KiraJSON)"), ("pretty_print", "pretty-print"), ("split_lines", "split into lines"),
                       ("prepare_body", "PrettyBody(text:) = the three above"), ("first_render", "first screen (render, colour)"),
                       ("first_screen_total", "**answer to first screen**")):
        entry = render[key]
        rl.append(f"| {label} | {float(entry['median_ms']):.1f} ms | {float(entry['p10_ms']):.1f}–{float(entry['p90_ms']):.1f} ms |")
    for place in ("top", "middle", "end"):
        entry = render["scroll_step"][place]
        rl.append(f"| scroll step, {place} of the body | {float(entry['median_ms']):.3f} ms | {float(entry['p10_ms']):.3f}–{float(entry['p90_ms']):.3f} ms |")
    if not render_ok:
        rl += render_miss(render, inproc.get("render_profile"))
    sections.append({"title": "Rendering a 5 MB response", "lines": rl})

    # Session save.
    save = inproc["save"]["save"]
    save_ms = float(save["median_ms"])
    goals.append({"what": "Session save with fsync", "goal": "≤ 2 ms median",
                  "measured": f"{save_ms:.2f} ms (p90 {float(save['p90_ms']):.2f} ms)", "ok": save_ms <= 2})
    sections.append({"title": "Saving a session", "lines": [
        f"`KiraBench save`: `SessionStore.save` of the session a headless quickstart left ({inproc['save']['exchanges']} exchanges,",
        f"{inproc['save']['file_bytes']:,} bytes of JSON), {save['n']} times after ten warm-ups: encode, write a temporary file, fsync it,",
        f"rename it over the old one, fsync the directory. On {inproc['save']['filesystem']} under `.build-bench/`.",
        "",
        "| Median | p10 | p90 | max |",
        "|---|---|---|---|",
        f"| {save_ms:.3f} ms | {float(save['p10_ms']):.3f} ms | {float(save['p90_ms']):.3f} ms | {float(save['max_ms']):.3f} ms |",
        "",
        "Its two halves, measured alternately in the same process:",
        "",
        "| Half | Median | p10 | p90 |",
        "|---|---|---|---|",
    ] + [f"| {label} | {float(inproc['save'][key]['median_ms']):.3f} ms | {float(inproc['save'][key]['p10_ms']):.3f} ms | "
         f"{float(inproc['save'][key]['p90_ms']):.3f} ms |"
         for key, label in (("encode", "SessionStore.serialized (JSONValueEncoder, pretty, ISO 8601 dates)"),
                            ("atomic_replace", "AtomicFile.replace (write, fsync, rename, fsync of the directory)"),
                            ("encode_with_foundation", "for comparison: JSONEncoder as sessions were written before (pretty, sorted keys)"))
         if key in inproc["save"]] + save_steps(inproc["save"], save_ms)})

    # Building a large JSON object.
    if "object" in inproc:
        obj = inproc["object"]
        goals.append({"what": f"JSON object of {obj['keys']:,} keys, built key by key", "goal": "(reported; no goal)",
                      "measured": f"{float(obj['build_by_subscript']['median_ms']):.1f} ms", "ok": None})
        sections.append({"title": "Building a large JSON object", "lines": [
            f"`KiraBench object`: a `JSONObject` of {obj['keys']:,} keys ({obj['bytes']:,} bytes as text), "
            f"{obj['build_by_subscript']['n']} times after one warm-up. Objects are ordered dictionaries, so each of these is linear in the keys.",
            "",
            "| Phase | Median | p10–p90 |",
            "|---|---|---|",
        ] + [f"| {label} | {float(obj[key]['median_ms']):.1f} ms | {float(obj[key]['p10_ms']):.1f}–{float(obj[key]['p90_ms']):.1f} ms |"
             for key, label in (("build_by_subscript", "one key at a time (`object[key] = value`)"),
                                ("build_from_pairs", "`JSONObject(pairs)`"), ("parse", "`JSONValue.parse` of its text"),
                                ("lookup_every_key", "looking up every key"))]})

    # Start-up of the emulator.
    goals.append({"what": "Emulator: spawn to readiness line", "goal": "(reported; no goal)", "measured": spread(starts), "ok": None})
    binary_size = os.path.getsize(args.binary)
    sections.append({"title": "For comparison shopping", "lines": [
        f"- `sandbox serve --port 0`, from the spawn to its readiness line: {spread(starts)} (what a CI job waits).",
        f"- The release binary is {binary_size / 1024 / 1024:.1f} MiB ({args.binary.replace(ROOT + '/', '')}), with the emulator, the TUI and the",
        "  exports in it; the peers need Python and their packages (posting pulls in Textual and tree-sitter grammars;",
        "  tavern pulls in pytest).",
    ]})

    if fresh:
        goals.append({"what": "Fresh clone to first frame (`git clone`, `swift run`, cold)", "goal": "(reported; no goal)",
                      "measured": f"{fresh['total_s']:.0f} s ({fresh['total_s'] / 60:.1f} min; build {fresh['build_s']:.0f} s)", "ok": None})
        sections.append({"title": "From a fresh clone to the first frame", "lines": fresh_clone_lines(fresh)})
    else:
        sections.append({"title": "From a fresh clone to the first frame", "lines": [
            "Not measured by this run (`--quick` or `--no-fresh-clone`); `bench/run` measures it in a full run, `--fresh-clone` adds it to a quick one."]})

    context["duration_s"] = time.monotonic() - began
    context["quick"] = quick
    context["fresh"] = bool(fresh)
    context["build_flags"] = args.build_flags
    results = {"goals": goals, "sections": sections}
    write_document(args.output, context, results)
    raw = os.path.join(ROOT, ".build-bench", "last-run.json")
    with open(raw, "w") as out:
        json.dump({"context": context, "frames": frames, "walk": walk, "quickstart": times, "wrk": load,
                   "starts": starts, "inproc": inproc, "fresh_clone": fresh, "goals": goals}, out, indent=1, default=str)
    log(f"wrote {args.output} (raw figures in {raw}) in {context['duration_s']:.0f} s")
    for goal in goals:
        log(f"{'—     ' if goal['ok'] is None else 'ok    ' if goal['ok'] else 'MISSED'} {goal['what']}: {goal['measured']} (goal {goal['goal']})")


if __name__ == "__main__":
    main()
