"""Fault matrix: every request of the quickstart × every kind of failure, injected by the emulator.

For each cell (a request of a step, a fault) the emulator is reset, the fault is injected through
`POST /__emulator/faults` for the NEXT matching request only (a transient failure), and a fresh
headless walkthrough runs to its end (bounded). The cell is classified:

- recovered: exit 0;
- stopped: exit 1 or 3 with a message and no Swift "Fatal error" or backtrace; the walkthrough is
  then resumed once without the fault, and whether it completes is recorded;
- crashed: a signal death, a "Fatal error"/backtrace, or a hang past the bound;
- duplicated: more than one user, virtual account, recipient or payout on the tenant afterwards.

"401 on an expired token" is a real expiry, not an injected status: the answer to the request
before the target is delayed, the emulator's clock is advanced past the token TTL meanwhile, so the
target request carries a token the emulator considers expired. For POST /auth, which carries no
token, it is an injected 401 "Token expired".

Usage: faults.py --out reliability/out/20-faults.md [--quick]
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import kirarel  # noqa: E402

REQUEST_TIMEOUT = 30  # the client's request timeout (KiraClientConfiguration.requestTimeout)
CELL_TIMEOUT = 240  # seconds, for one walkthrough run of a cell
TOKEN_TTL = 3600

# (step, what, method, path pattern): in the order a walkthrough sends them.
TARGETS = [
    ("authenticate", "POST /auth", "POST", "/auth"),
    ("pin_version", "POST /v1/versioning/upgrade", "POST", "/v1/versioning/upgrade"),
    ("create_user", "POST /v1/users", "POST", "/v1/users"),
    ("create_user", "GET /v1/users/{id} (poll)", "GET", "/v1/users/*"),
    ("create_virtual_account", "POST /v1/virtual-accounts", "POST", "/v1/virtual-accounts"),
    ("create_virtual_account", "GET /v1/virtual-accounts/{id} (poll)", "GET", "/v1/virtual-accounts/*"),
    ("simulate_deposit", "POST …/simulate-deposit", "POST", "/v1/virtual-accounts/*/simulate-deposit"),
    ("simulate_deposit", "GET …/deposits", "GET", "/v1/virtual-accounts/*/deposits"),
    ("payout", "POST /v1/recipients", "POST", "/v1/recipients"),
    ("payout", "POST …/payout/preview", "POST", "/v1/virtual-accounts/*/payout/preview"),
    ("payout", "POST …/payout", "POST", "/v1/virtual-accounts/*/payout"),
    ("payout", "GET /v1/payouts/{id}", "GET", "/v1/payouts/*"),
]

CREATED = {  # POSTs that answer 201
    "/v1/users", "/v1/virtual-accounts", "/v1/virtual-accounts/*/simulate-deposit", "/v1/recipients", "/v1/virtual-accounts/*/payout",
}

FAULTS = [
    ("500", {"kind": "status", "status": 500}),
    ("HTML 502", {"kind": "html", "status": 502}),
    ("503 + Retry-After", {"kind": "status", "status": 503, "retry_after": 1}),
    ("429 + Retry-After", {"kind": "status", "status": 429, "retry_after": 1}),
    ("dropped connection", {"kind": "drop"}),
    (f"slower than the {REQUEST_TIMEOUT} s timeout", {"kind": "delay", "delay_ms": (REQUEST_TIMEOUT + 2) * 1000}),
    ("malformed JSON", {"kind": "malformed_json"}),  # with the status the request succeeds with
    ("401 expired token", None),  # a real expiry, see the docstring
]

QUICK_CELLS = [
    ("POST /v1/users", "503 + Retry-After"),
    ("POST /v1/virtual-accounts", "dropped connection"),
    ("POST …/payout", "malformed JSON"),
    ("GET /v1/users/{id} (poll)", "401 expired token"),
]

CRASH_MARKS = re.compile(r"Fatal error|Backtrace|Stack dump|Segmentation fault|Illegal instruction|\bpanic\b", re.I)
EMULATOR_ARGS = ["--auto-verify-after", "0", "--va-ready-after", "0", "--payout-step-interval", "0.2", "--token-ttl", str(TOKEN_TTL)]


def counts_of(emulator):
    tenant = emulator.tenant_counts(emulator.credentials["KIRA_CLIENT_ID"])
    return {key: tenant[key] for key in ("users", "virtual_accounts", "recipients", "payouts", "deposits")}


def duplicates_in(counts):
    """Resources beyond one of each; deposits aside (simulate-deposit takes no idempotency key)."""
    return sum(max(0, value - 1) for key, value in counts.items() if key != "deposits")


def message_of(output):
    """The walkthrough's own message: its last `kira-walkthrough: …` (standard error) or `✗ …` line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("kira-walkthrough:", "✗", "⏸"):
        found = [line for line in lines if line.startswith(marker)]
        if found:
            return found[-1]
    return None


def expire_token_before(emulator, target_index, stop):
    """Delays the answer to the request before the target, and advances the clock past the TTL
    while that answer is held back. Returns nothing; runs in a thread until `stop` is set."""
    _, _, method, path = TARGETS[target_index - 1]
    emulator.control("POST", "faults", {"method": method, "path": path, "kind": "delay", "delay_ms": 1500, "count": 1})
    deadline = time.monotonic() + CELL_TIMEOUT
    while not stop.is_set() and time.monotonic() < deadline:
        if not emulator.control("GET", "faults")["faults"]:
            emulator.control("POST", "clock", {"advance_seconds": TOKEN_TTL + 60})
            return
        time.sleep(0.02)


def saw_status(state_dir, session, method, path, status):
    """True when the session recorded an exchange of `method path` (pattern) answered `status`."""
    try:
        with open(os.path.join(state_dir, session + ".json")) as handle:
            exchanges = json.load(handle).get("exchanges", [])
    except (OSError, ValueError):
        return False
    pattern = re.compile("/sandbox" + re.escape(path).replace(r"\*", "[^/?]+") + r"(\?|$)")
    return any(
        exchange.get("method") == method and exchange.get("status") == status and pattern.search(exchange.get("url", ""))
        for exchange in exchanges
    )


def run_cell(emulator, work, target_index, fault_name, fault):
    """One cell of the matrix on this worker's emulator."""
    step, what, method, path = TARGETS[target_index]
    emulator.control("POST", "reset")
    emulator.control("DELETE", "faults")
    session = re.sub(r"[^a-z0-9]+", "-", f"{what} {fault_name}".lower()).strip("-")[:60]
    state_dir = os.path.join(work, session)
    stop = threading.Event()
    helper = None
    if fault is None and target_index > 0:
        helper = threading.Thread(target=expire_token_before, args=(emulator, target_index, stop))
        helper.start()
    else:
        body = fault or {"kind": "status", "status": 401, "body": {"code": "unauthorized", "message": "Token expired"}}
        if body["kind"] == "malformed_json":
            body = {**body, "status": 201 if method == "POST" and path in CREATED else 200}
        emulator.control("POST", "faults", {"method": method, "path": path, "count": 1, **body})
    status, output, seconds = kirarel.run_walkthrough(emulator, state_dir, session, timeout=CELL_TIMEOUT)
    stop.set()
    if helper:
        helper.join()
        hit = saw_status(state_dir, session, method, path, 401)
    else:
        hit = not emulator.control("GET", "faults")["faults"]
    emulator.control("DELETE", "faults")
    counts = counts_of(emulator)
    crashed = status is None or status < 0 or status not in (0, 1, 3) or bool(CRASH_MARKS.search(output))
    cell = {
        "step": step, "what": what, "fault": fault_name, "exit": status, "seconds": seconds, "hit": hit,
        "message": message_of(output), "counts": counts, "readable": kirarel.session_file_readable(state_dir, session),
    }
    if crashed:
        cell["outcome"] = "crashed"
    elif status == 0:
        cell["outcome"] = "recovered"
    else:
        cell["outcome"] = "stopped" if cell["message"] else "unclear"
        resumed, resumed_output, _ = kirarel.run_walkthrough(emulator, state_dir, session, timeout=CELL_TIMEOUT)
        cell["resumed"] = resumed == 0
        cell["resumed_message"] = message_of(resumed_output)
        if resumed is None or resumed not in (0, 1, 3) or CRASH_MARKS.search(resumed_output):
            cell["outcome"] = "crashed"
        cell["counts"] = counts_of(emulator)
    if cell["message"] is None:
        last = output.strip().splitlines()[-1:] or ["(no output)"]
        cell["message"] = "(no `kira-walkthrough: …`, `✗` or `⏸` line) last line: " + last[0][:200]
    cell["duplicates"] = duplicates_in(cell["counts"])
    if cell["outcome"] == "crashed" or cell["duplicates"] or not cell["readable"]:
        with open(os.path.join(work, session + ".output"), "w") as handle:
            handle.write(output)
    return cell


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="a few cells only")
    parser.add_argument("--parallel", type=int, default=4, help="emulators, each running cells one by one")
    args = parser.parse_args()
    kirarel.install_signal_handlers()

    index_of = {what: index for index, (_, what, _, _) in enumerate(TARGETS)}
    fault_of = dict(FAULTS)
    if args.quick:
        cells = [(index_of[what], name, fault_of[name]) for what, name in QUICK_CELLS]
    else:
        cells = [(index, name, fault) for index in range(len(TARGETS)) for name, fault in FAULTS]
    # The slow cells first, so the workers finish together.
    cells.sort(key=lambda cell: 0 if cell[2] and cell[2]["kind"] == "delay" else 1)

    work = tempfile.mkdtemp(prefix="kira-faults-")
    started = time.monotonic()
    lock = threading.Lock()
    queue = list(cells)
    results = []

    def worker(number):
        with kirarel.Emulator(*EMULATOR_ARGS, log_path=os.path.join(work, f"emulator-{number}.log")) as emulator:
            while True:
                with lock:
                    if not queue:
                        return
                    target_index, name, fault = queue.pop(0)
                cell = run_cell(emulator, work, target_index, name, fault)
                with lock:
                    results.append(cell)
                    print(f"faults: {cell['what']} × {cell['fault']}: {cell['outcome']} (exit {cell['exit']}, {cell['seconds']:.1f} s)", flush=True)

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for future in [pool.submit(worker, number) for number in range(min(args.parallel, len(cells)))]:
            future.result()
    elapsed = time.monotonic() - started

    order = {(what, name): (index, column) for index, (_, what, _, _) in enumerate(TARGETS) for column, (name, _) in enumerate(FAULTS)}
    results.sort(key=lambda cell: order[(cell["what"], cell["fault"])])
    total = len(results)
    tally = {outcome: sum(1 for cell in results if cell["outcome"] == outcome) for outcome in ("recovered", "stopped", "unclear", "crashed")}
    duplicated = sum(1 for cell in results if cell["duplicates"])
    unreadable = sum(1 for cell in results if not cell["readable"])
    stopped = [cell for cell in results if cell["outcome"] in ("stopped", "unclear")]
    resumed = sum(1 for cell in stopped if cell.get("resumed"))
    missed = [cell for cell in results if not cell["hit"]]
    repeated_deposits = [cell for cell in results if cell["counts"]["deposits"] > 1]

    lines = [
        kirarel.goal("Fault matrix: cells that crashed", f"{tally['crashed']}/{total}", tally["crashed"] == 0),
        kirarel.goal("Fault matrix: cells that duplicated a resource", f"{duplicated}/{total}", duplicated == 0),
        kirarel.goal(
            "Fault matrix: cells recovered automatically or stopped with a clear message",
            f"{tally['recovered'] + tally['stopped']}/{total}", tally["recovered"] + tally["stopped"] == total,
        ),
        "## Fault matrix",
        "",
        f"{total} cells{' (quick: a sample)' if args.quick else ''}: each request of the quickstart × each fault, injected for the next "
        f"matching request only, on a reset emulator (`sandbox serve {' '.join(EMULATOR_ARGS)}`), then a fresh "
        f"`run --plain --yes` (bounded at {CELL_TIMEOUT} s). The client's request timeout is {REQUEST_TIMEOUT} s, "
        f"so the slow answer comes {REQUEST_TIMEOUT + 2} s late. \"401 expired token\" is a real expiry: the answer "
        f"before the target is held back while the emulator's clock jumps past the {TOKEN_TTL} s TTL (for POST "
        f"/auth, an injected 401). After a stop, the same command was run once more without the fault. "
        f"Wall time {elapsed:.0f} s.",
        "",
        "| Outcome | Cells |",
        "|---|---|",
        f"| recovered automatically (exit 0) | {tally['recovered']} |",
        f"| stopped with a clear message (exit 1 or 3) | {tally['stopped']} |",
        f"| stopped without a clear message | {tally['unclear']} (goal 0) |",
        f"| …stopped cells that completed when resumed without the fault | {resumed}/{len(stopped)} |",
        f"| crashed (signal, fatal error, hang) | {tally['crashed']} (goal 0) |",
        f"| duplicated a resource (> 1 user, VA, recipient or payout) | {duplicated} (goal 0) |",
        f"| unreadable session file afterwards | {unreadable} (goal 0) |",
        f"| fault never reached its request | {len(missed)} |",
        f"| cells that left 2 deposits (informational) | {len(repeated_deposits)} |",
        "",
        "R = recovered automatically, S = stopped with a clear message (S→R: completed when resumed), "
        "**U** = stopped without a clear message, **CRASH**, **DUP** = duplicated, (n/r) = the fault was never reached.",
        "",
        "| Step | Request | " + " | ".join(name for name, _ in FAULTS) + " |",
        "|---|---|" + "---|" * len(FAULTS),
    ]
    by_key = {(cell["what"], cell["fault"]): cell for cell in results}
    for step, what, _, _ in TARGETS:
        row = []
        for name, _ in FAULTS:
            cell = by_key.get((what, name))
            if cell is None:
                row.append("·")
                continue
            resumed_mark = "→R" if cell.get("resumed") else ""
            mark = {"recovered": "R", "stopped": "S" + resumed_mark, "unclear": "**U**" + resumed_mark, "crashed": "**CRASH**"}[cell["outcome"]]
            if cell["duplicates"]:
                mark += " **DUP**"
            if not cell["hit"]:
                mark += " (n/r)"
            row.append(mark)
        lines.append(f"| {step} | {what} | " + " | ".join(row) + " |")
    lines += ["", "<details><summary>The message of every stopped or crashed cell</summary>", "", "| Request | Fault | Exit | Message |", "|---|---|---|---|"]
    for cell in results:
        if cell["outcome"] != "recovered":
            message = cell["message"].replace("|", "\\|")[:300]
            lines.append(f"| {cell['what']} | {cell['fault']} | {cell['exit']} | {message} |")
    lines += ["", "</details>", ""]
    transient = {"HTML 502", "503 + Retry-After", "429 + Retry-After", "dropped connection", f"slower than the {REQUEST_TIMEOUT} s timeout"}
    stopped_on_transient = sorted({cell["what"] for cell in stopped if cell["fault"] in transient}, key=lambda what: index_of[what])
    lines += [
        "500 is not retried anywhere (the client retries 429, 502, 503, 504, timeouts and dropped connections, "
        "at most 4 attempts, honouring Retry-After, but only for GETs, requests with an idempotency key and requests "
        "the flow marks `safe_to_repeat`). A truncated body stops the step when the step captures something from "
        "it; a poll asks again. A 401 on a bearer call re-authenticates once and repeats the call.",
        "",
    ]
    if stopped_on_transient:
        lines += [
            "Transient faults stopped only: " + ", ".join(stopped_on_transient) + ": requests with no idempotency key "
            "that the flow does not mark `safe_to_repeat`, so the client does not retry them. For simulate-deposit "
            "that is right (each call is a new deposit); a payout preview has no side effect, so marking it "
            "`safe_to_repeat` in flows/quickstart.yaml would let those cells recover by themselves.",
            "",
        ]
    if repeated_deposits:
        lines += [
            "Two deposits after: " + ", ".join(f"{cell['what']} × {cell['fault']}" for cell in repeated_deposits) + ". "
            "`simulate-deposit` takes no idempotency key, so when the emulator handled the request but the answer "
            "was lost (late, malformed), resuming the stopped step deposits again. The walkthrough does not retry "
            "it by itself; the sandbox offers no way to tell whether the first one landed (Q-DEPOSIT-INVISIBLE).",
            "",
        ]
    lines += [kirarel.binary_line(), ""]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    if tally["crashed"] or duplicated or unreadable:
        print(f"faults: evidence kept in {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"faults: {total} cells: {tally['recovered']} recovered, {tally['stopped']} stopped ({resumed} then resumed), "
        f"{tally['crashed']} crashed, {duplicated} duplicated, {elapsed:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
