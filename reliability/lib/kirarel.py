"""Shared helpers for the reliability scripts: start the emulator, call it, run the walkthrough.

Standard library only. Every server listens on 127.0.0.1, every wait is bounded, and every process
started here is stopped by the caller (the Emulator is a context manager).
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BINARY = os.path.join(ROOT, ".build-release", "release", "kira-walkthrough")
FLOW = os.path.join(ROOT, "flows", "quickstart.yaml")


_LIVE = set()  # every process started here that may still run: stopped on SIGTERM/SIGINT


def track(process):
    """Registers a process (started with start_new_session=True) to be killed if we are stopped."""
    _LIVE.add(process)
    return process


def _stop_everything(signum, _frame):
    for process in list(_LIVE):
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
    os._exit(128 + signum)


def install_signal_handlers():
    """On SIGTERM or SIGINT, kill every tracked process group and exit at once."""
    signal.signal(signal.SIGTERM, _stop_everything)
    signal.signal(signal.SIGINT, _stop_everything)


def binary():
    """The kira-walkthrough binary: $KIRA_BINARY, else the release build."""
    return os.environ.get("KIRA_BINARY", DEFAULT_BINARY)


class Emulator:
    """`kira-walkthrough sandbox serve --port 0 …` as a context manager."""

    def __init__(self, *args, log_path=None):
        self.args = list(args)
        self.log_path = log_path
        self.process = None
        self.base_url = None  # http://127.0.0.1:PORT/sandbox
        self.root = None  # http://127.0.0.1:PORT
        self.credentials = {}

    def __enter__(self):
        log = open(self.log_path or os.devnull, "ab")
        self.process = subprocess.Popen(
            [binary(), "sandbox", "serve", "--host", "127.0.0.1", "--port", "0", *self.args],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        track(self.process)
        log.close()
        deadline = time.monotonic() + 30
        line = b""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if b"ready at" in line or not line:
                break
        text = line.decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/sandbox", text)
        if not match:
            self.stop()
            raise RuntimeError(f"the emulator did not print its readiness line: {text!r}")
        self.root = match.group(1)
        self.base_url = self.root + "/sandbox"
        for name in ("KIRA_API_KEY", "KIRA_CLIENT_ID", "KIRA_PASSWORD"):
            found = re.search(name + r"=(\S+)", text)
            if found:
                self.credentials[name] = found.group(1)
        return self

    def __exit__(self, *exc):
        self.stop()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def control(self, method, path, body=None):
        """An /__emulator/ control; returns the decoded JSON answer."""
        status, answer = http_json(method, self.root + "/__emulator/" + path.lstrip("/"), body)
        if status >= 300:
            raise RuntimeError(f"{method} /__emulator/{path} answered {status}: {answer}")
        return answer

    def tenant_counts(self, client_id=None):
        state = self.control("GET", "state")
        for tenant in state["tenants"]:
            if client_id is None or tenant["client_id"] == client_id:
                return tenant
        raise KeyError(client_id)


def http_json(method, url, body=None, headers=None, timeout=30):
    """One HTTP exchange; returns (status, decoded JSON or text or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def walkthrough(emulator, state_dir, session, *extra, credentials=None):
    """The command line and environment of a headless walkthrough against an emulator."""
    env = dict(os.environ)
    env.update(credentials or emulator.credentials)
    env.pop("KIRA_WALKTHROUGH_STATE_DIR", None)
    command = [
        binary(), "run", "--plain", "--yes", "--target", emulator.base_url, "--flow", FLOW,
        "--state-dir", state_dir, "--session", session, *extra,
    ]
    return command, env


def run_walkthrough(emulator, state_dir, session, *extra, timeout=300, credentials=None):
    """Runs the walkthrough to its end; returns (exit status or None on a hang, output, seconds)."""
    command, env = walkthrough(emulator, state_dir, session, *extra, credentials=credentials)
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    track(process)
    try:
        output, _ = process.communicate(timeout=timeout)
        status = process.returncode
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        status = None
    return status, output.decode(errors="replace"), time.monotonic() - started


def session_status(state_dir, session):
    """`kira-walkthrough status --json`, decoded, or None when it fails."""
    result = subprocess.run(
        [binary(), "status", "--json", "--session", session, "--state-dir", state_dir],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


def session_file_readable(state_dir, session):
    """True when DIR/NAME.json is absent (not saved yet) or parses as JSON."""
    path = os.path.join(state_dir, session + ".json")
    if not os.path.exists(path):
        return True
    try:
        with open(path, "rb") as handle:
            json.load(handle)
        return True
    except ValueError:
        return False


def machine():
    """nproc, CPU model and memory, for the report."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "unknown memory"
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
            memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": memory}


def binary_line():
    """The closing line of a fragment: which binary produced its figures."""
    path = binary()
    relative = os.path.relpath(path, ROOT)
    return f"_Binary: `{path if relative.startswith('..') else relative}`._"


def goal(name, figure, met):
    """The goal comment a fragment starts with; the assembler builds the goals table from these."""
    return f"<!-- goal: {name} | {figure} | {'met' if met else 'missed'} -->"
