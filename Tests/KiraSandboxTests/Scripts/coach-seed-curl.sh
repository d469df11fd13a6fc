#!/usr/bin/env bash
# The quickstart seed page's curl commands, as an integrator's own program would send them to
# `kira-walkthrough coach`, with a complete user (its body, images included, in USER_BODY_FILE).
# Inputs: BASE_URL, KIRA_API_KEY, KIRA_CLIENT_ID, KIRA_PASSWORD, USER_BODY_FILE.
# The Kira contact's part (verifying the user) and the passing of time use the emulator's
# /__emulator/ controls. With STEP_GATE set, step N waits (bounded) for the file $STEP_GATE/N.
set -euo pipefail
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done
command -v uuidgen >/dev/null || uuidgen() { cat /proc/sys/kernel/random/uuid; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ROOT_URL=${BASE_URL%/sandbox}
gate() {
  [ -n "${STEP_GATE:-}" ] || return 0
  for _ in $(seq 1 600); do [ -e "$STEP_GATE/$1" ] && return 0; sleep 0.1; done
  fail "gate $1 never opened"
}

# 2. Authenticate
gate 2
AUTH=$(curl -s "$BASE_URL/auth" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "client_id": "'"$KIRA_CLIENT_ID"'", "password": "'"$KIRA_PASSWORD"'" }')
ACCESS_TOKEN=$(jq -r .data.access_token <<<"$AUTH")
[ "$ACCESS_TOKEN" != null ] || fail "no token: $AUTH"
echo "step 2 done"

# 3. Pin your version
gate 3
curl -s "$BASE_URL/v1/versioning/upgrade" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "target_version": "2026-04-14" }' >/dev/null
echo "step 3 done"

# 4. Create a user (complete), then the Kira contact verifies it
gate 4
USER=$(curl -s "$BASE_URL/v1/users" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  --data-binary "@$USER_BODY_FILE")
USER_ID=$(jq -r .id <<<"$USER")
[ "$(jq -r .verification_triggered <<<"$USER")" = true ] || fail "verification did not trigger: $USER"
curl -s -X POST "$ROOT_URL/__emulator/users/$USER_ID/verify" >/dev/null
STATUS=$(curl -s "$BASE_URL/v1/users/$USER_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .status)
[ "$STATUS" = VERIFIED ] || fail "user is $STATUS"
echo "step 4 done"

# 5. Create a virtual account; read its account number once real
gate 5
VA=$(curl -s "$BASE_URL/v1/virtual-accounts" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{ "user_id": "'"$USER_ID"'", "type": "US_BANK", "provider": "act", "bank": "slovak_savings_bank", "mode": "fiat" }')
VA_ID=$(jq -r .id <<<"$VA")
curl -s -X POST "$ROOT_URL/__emulator/clock" -H "Content-Type: application/json" -d '{ "advance_seconds": 30 }' >/dev/null
NUMBER=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .account_number)
[[ "$NUMBER" =~ ^[0-9]{10}$ ]] || fail "account number not real: $NUMBER"
echo "step 5 done"

# 6. Simulate a deposit
gate 6
curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/simulate-deposit" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "amount": "100.00" }' >/dev/null
echo "step 6 done"

# 7. Make a payout (a recipient first)
gate 7
RECIPIENT=$(curl -s "$BASE_URL/v1/recipients" \
  -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{ "type": "individual", "user_id": "'"$USER_ID"'", "first_name": "Grace", "last_name": "Hopper",
        "email": "grace@example.com", "phone": "+442071234567",
        "address": { "street_name": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB" },
        "account": { "account_type": "SWIFT", "account_number": "GB29NWBK60161331926819", "swift_code": "NWBKGB2L",
                     "bank_name": "NatWest", "bank_address": { "street_name": "250 Bishopsgate", "city": "London", "country": "GB" } } }')
RECIPIENT_ID=$(jq -r .recipient_id <<<"$RECIPIENT")
curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/payout/preview" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "recipient_id": "'"$RECIPIENT_ID"'", "amount": "50.00" }' >/dev/null
PAYOUT=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/payout" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{ "recipient_id": "'"$RECIPIENT_ID"'", "amount": "50.00" }')
PAYOUT_ID=$(jq -r .payout_id <<<"$PAYOUT")
STATUS=$(curl -s "$BASE_URL/v1/payouts/$PAYOUT_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .status)
[ "$STATUS" = CREATED ] || fail "payout is $STATUS"
echo "step 7 done"
echo "quickstart complete"
