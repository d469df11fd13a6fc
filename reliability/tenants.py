"""Tenant isolation under load: several tenants hammer one emulator in parallel.

An emulator starts with TENANTS tenants (`--tenants FILE`). Each tenant gets a provisioned user,
virtual account, recipient and a payout. Then CLIENTS threads per tenant, each on its own
keep-alive connection and its own token, loop for a bounded time and a bounded number of
requests: create users, read their own users, virtual accounts, recipients and payouts (must be
200 and theirs), list users (only theirs), and try the other tenants' ids (users, virtual accounts,
recipients must be 404, payouts 403) and another tenant's token (401). Any other answer is an error;
a foreign resource that comes back is a cross-tenant read. At the end every tenant's user count on
/__emulator/state must equal the users it created.

Usage: tenants.py --out reliability/out/30-tenants.md [--seconds 20] [--tenants 6] [--clients 2]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import kirarel  # noqa: E402

MAX_REQUESTS_PER_CLIENT = 200_000


class Client:
    """One tenant's keep-alive connection to the emulator, with its token."""

    def __init__(self, host, port, tenant):
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.tenant = tenant
        self.token = None

    def call(self, method, path, body=None, token=None, idempotency=False):
        headers = {"x-api-key": self.tenant["api_key"], "content-type": "application/json"}
        if path != "/auth":
            headers["authorization"] = "Bearer " + (token or self.token)
        if idempotency:
            headers["idempotency-key"] = str(uuid.uuid4())
        data = None if body is None else json.dumps(body)
        try:
            self.connection.request(method, "/sandbox" + path, body=data, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reconnects on the next request
            raise
        return response.status, (json.loads(raw) if raw else None)

    def authenticate(self):
        status, body = self.call("POST", "/auth", {"client_id": self.tenant["client_id"], "password": self.tenant["password"]})
        if status != 200:
            raise RuntimeError(f"/auth answered {status}: {body}")
        self.token = body["data"]["access_token"]


def user_body(tenant_index):
    return {
        "type": "individual", "first_name": "Load", "last_name": f"Tenant{tenant_index}",
        "email": f"load+{uuid.uuid4().hex[:12]}@example.com", "birth_date": "1990-12-10", "phone": "+14155550123",
        "nationality": "USA", "address_street": "1 Main St", "address_city": "Springfield", "address_state": "IL",
        "address_zip_code": "62701", "address_country": "USA", "document_type": "passport", "document_number": "X1234567",
        "document_country": "USA", "employment_status": "employed", "occupation": "Engineer",
        "account_purpose": "receive_payments", "source_of_funds": "salary",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--tenants", type=int, default=6)
    parser.add_argument("--clients", type=int, default=2, help="threads per tenant")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    kirarel.install_signal_handlers()

    tenants = [
        {"api_key": f"load_tenant_{index}_key", "client_id": str(uuid.uuid4()), "password": f"pass-{index}"}
        for index in range(args.tenants)
    ]
    work = tempfile.mkdtemp(prefix="kira-tenants-")
    tenants_file = os.path.join(work, "tenants.json")
    with open(tenants_file, "w") as handle:
        json.dump(tenants, handle)

    with kirarel.Emulator("--tenants", tenants_file, log_path=os.path.join(work, "emulator.log")) as emulator:
        host, port = emulator.root.removeprefix("http://").split(":")
        port = int(port)
        # Set-up: one provisioned user, VA and recipient per tenant, and one payout.
        owned = []
        for index, tenant in enumerate(tenants):
            ids = emulator.control("POST", "provision", {"client_id": tenant["client_id"]})
            client = Client(host, port, tenant)
            client.authenticate()
            status, payout = client.call(
                "POST", f"/v1/virtual-accounts/{ids['virtual_account_id']}/payout",
                {"recipient_id": ids["recipient_id"], "amount": "50.00", "currency": "USD"}, idempotency=True,
            )
            if status != 201:
                raise SystemExit(f"tenants: set-up payout answered {status}: {payout}")
            owned.append({
                "users": [ids["user_id"]], "virtual-accounts": [ids["virtual_account_id"]],
                "recipients": [ids["recipient_id"]], "payouts": [payout["payout_id"]], "token": client.token,
                "created_users": 1,
            })
        all_ids = {kind: {value: index for index, own in enumerate(owned) for value in own[kind]} for kind in ("users", "virtual-accounts", "recipients", "payouts")}

        lock = threading.Lock()
        totals = {"requests": 0, "errors": 0, "cross": 0, "foreign_attempts": 0, "latencies": []}
        error_samples = []
        listed = []  # (tenant index, user id) of every user a tenant's list showed
        deadline = time.monotonic() + args.seconds

        def note_error(text):
            with lock:
                totals["errors"] += 1
                if len(error_samples) < 10:
                    error_samples.append(text)

        def hammer(tenant_index, seed):
            rng = random.Random(seed)
            tenant = tenants[tenant_index]
            own = owned[tenant_index]
            others = [index for index in range(len(tenants)) if index != tenant_index]
            client = Client(host, port, tenant)
            client.authenticate()
            requests = errors = cross = foreign = 0
            latencies = []
            created = 0
            while time.monotonic() < deadline and requests < MAX_REQUESTS_PER_CLIENT:
                choice = rng.random()
                other = owned[rng.choice(others)]
                try:
                    began = time.perf_counter()
                    if choice < 0.10:  # create a user
                        status, body = client.call("POST", "/v1/users", user_body(tenant_index), idempotency=True)
                        if status == 201:
                            created += 1
                            with lock:
                                own["users"].append(body["id"])
                                all_ids["users"][body["id"]] = tenant_index
                        else:
                            note_error(f"tenant {tenant_index}: POST /v1/users → {status} {body}")
                    elif choice < 0.45:  # read one of our own resources
                        kind = rng.choice(("users", "virtual-accounts", "recipients", "payouts"))
                        wanted = rng.choice(own[kind])
                        status, body = client.call("GET", f"/v1/{kind}/{wanted}")
                        if status != 200 or wanted not in (body.get("id"), body.get("recipient_id")):
                            note_error(f"tenant {tenant_index}: GET own {kind} → {status} {body}")
                    elif choice < 0.55:  # list our users: every item must be ours
                        status, body = client.call("GET", "/v1/users?limit=20")
                        if status != 200:
                            note_error(f"tenant {tenant_index}: GET /v1/users → {status} {body}")
                        else:
                            with lock:  # an id not known yet may be a sibling thread's: judged at the end
                                listed.extend((tenant_index, item["id"]) for item in body["data"])
                    elif choice < 0.95:  # read another tenant's resource
                        kind = rng.choice(("users", "virtual-accounts", "recipients", "payouts"))
                        status, body = client.call("GET", f"/v1/{kind}/{rng.choice(other[kind])}")
                        foreign += 1
                        if status == 200:
                            cross += 1
                        elif status != (403 if kind == "payouts" else 404):
                            note_error(f"tenant {tenant_index}: GET foreign {kind} → {status} {body}")
                    else:  # our api key with another tenant's token
                        status, body = client.call("GET", f"/v1/users/{own['users'][0]}", token=other["token"])
                        foreign += 1
                        if status == 200:
                            cross += 1
                        elif status != 401:
                            note_error(f"tenant {tenant_index}: foreign token → {status} {body}")
                    latencies.append(time.perf_counter() - began)
                except (OSError, http.client.HTTPException, ValueError) as error:
                    note_error(f"tenant {tenant_index}: {type(error).__name__}: {error}")
                requests += 1
            with lock:
                totals["requests"] += requests
                totals["cross"] += cross
                totals["foreign_attempts"] += foreign
                totals["latencies"] += latencies
                own["created_users"] += created

        started = time.monotonic()
        threads = [
            threading.Thread(target=hammer, args=(index, index * 100 + number))
            for index in range(len(tenants)) for number in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.seconds + 120)
        elapsed = time.monotonic() - started
        hung = sum(1 for thread in threads if thread.is_alive())
        state = emulator.control("GET", "state")
        alive = emulator.alive()

    listed_foreign = sum(1 for index, user in listed if all_ids["users"].get(user) != index)
    totals["cross"] += listed_foreign
    counts = {tenant["client_id"]: tenant for tenant in state["tenants"]}
    mismatched = [
        index for index, tenant in enumerate(tenants)
        if counts[tenant["client_id"]]["users"] != owned[index]["created_users"]
        or counts[tenant["client_id"]]["payouts"] != 1 or counts[tenant["client_id"]]["virtual_accounts"] != 1
    ]
    latencies = sorted(totals["latencies"]) or [0.0]
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    errors = totals["errors"] + hung + (0 if alive else 1)
    cross = totals["cross"]
    throughput = totals["requests"] / elapsed if elapsed else 0
    created = sum(own["created_users"] for own in owned)
    lines = [
        kirarel.goal("Tenant isolation: cross-tenant reads", str(cross), cross == 0 and not mismatched),
        kirarel.goal("Tenant load: errors", f"{errors} in {totals['requests']} requests", errors == 0),
        "## Tenant isolation and load",
        "",
        f"{args.tenants} tenants on one emulator (`sandbox serve --tenants FILE`, no rate limit), "
        f"{args.clients} client threads per tenant ({args.tenants * args.clients} in all, Python `http.client` "
        f"keep-alive connections, each with its own token), for {args.seconds:g} s. The mix: 10 % create a user, "
        f"35 % read one of the tenant's own users, virtual accounts, recipients or payouts, 10 % list the "
        f"tenant's users, 40 % read another tenant's resource (404, payouts 403), 5 % the tenant's key with "
        f"another tenant's token (401). Before the load each tenant got a provisioned user, virtual account, "
        f"recipient and one payout.",
        "",
        "| Figure | Value | Goal |",
        "|---|---|---|",
        f"| requests | {totals['requests']} | — |",
        f"| throughput | {throughput:.0f} requests/s | — |",
        f"| latency p50 / p99 | {p50:.1f} ms / {p99:.1f} ms | — |",
        f"| errors (unexpected status, transport error, hung client) | {errors} | 0 |",
        f"| attempts at another tenant's resources or token | {totals['foreign_attempts']} | — |",
        f"| cross-tenant reads (a foreign resource answered, or listed) | {cross} | 0 |",
        f"| users created under load | {created - args.tenants} | — |",
        f"| tenants whose counts on `/__emulator/state` differ from what they created | {len(mismatched)} | 0 |",
        f"| emulator still up at the end | {'yes' if alive else 'NO'} | yes |",
        "",
        "The client is a Python process on the same 2-core machine, so the throughput is a floor set by the "
        "load generator as much as by the emulator (`bench/` measures the emulator itself).",
        "",
    ]
    if error_samples:
        lines += ["Errors seen (first 10):", ""] + [f"- `{sample[:300]}`" for sample in error_samples] + [""]
    lines += [kirarel.binary_line(), ""]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines))
    if errors or cross or mismatched:
        print(f"tenants: the emulator's log is kept in {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"tenants: {totals['requests']} requests, {throughput:.0f}/s, {errors} errors, {cross} cross-tenant reads, "
        f"{len(mismatched)} mismatched tenants", flush=True,
    )


if __name__ == "__main__":
    main()
