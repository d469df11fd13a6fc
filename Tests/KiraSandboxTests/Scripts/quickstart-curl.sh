#!/usr/bin/env bash
# The quickstart seed page's curl commands, verbatim in shape, pointed at an emulator.
# Inputs: BASE_URL, KIRA_API_KEY, KIRA_CLIENT_ID, KIRA_PASSWORD, KIRA_WALKTHROUGH (the binary).
# Prints one "ok <what>" line per checked behaviour; exits non-zero at the first surprise.
set -euo pipefail
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done
command -v uuidgen >/dev/null || uuidgen() { cat /proc/sys/kernel/random/uuid; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; echo "ok $3"; }

# 2. Authenticate
AUTH=$(curl -s "$BASE_URL/auth" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "client_id": "'"$KIRA_CLIENT_ID"'", "password": "'"$KIRA_PASSWORD"'" }')
expect "$(jq -r .data.expires_in <<<"$AUTH")" 3600 "auth expires_in"
expect "$(jq -r .data.token_type <<<"$AUTH")" Bearer "auth token_type"
ACCESS_TOKEN=$(jq -r .data.access_token <<<"$AUTH")

# 3. Pin your version (idempotent: run twice)
for attempt in 1 2; do
  PIN=$(curl -s "$BASE_URL/v1/versioning/upgrade" \
    -H "Authorization: Bearer $ACCESS_TOKEN" \
    -H "x-api-key: $KIRA_API_KEY" \
    -H "Content-Type: application/json" \
    -d '{ "target_version": "2026-04-14" }')
  expect "$(jq -r .current_version <<<"$PIN")" 2026-04-14 "pin current_version ($attempt)"
done

# 4. Create a user (complete: every field that triggers verification, with real images)
FIXTURES="$(cd "$(dirname "$0")/../Fixtures" && pwd)"
PASSPORT_FRONT="data:image/jpeg;base64,$(base64 < "$FIXTURES/passport-front.jpg" | tr -d '\n')"
PROOF_OF_ADDRESS="data:image/png;base64,$(base64 < "$FIXTURES/proof-of-address.png" | tr -d '\n')"
USER=$(curl -s "$BASE_URL/v1/users" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{ "type": "individual", "source_of_funds": "salary", "first_name": "Ada", "last_name": "Lovelace",
        "email": "ada.curl@example.com", "birth_date": "1990-12-10", "phone": "+14155550123", "nationality": "USA",
        "gender": "female", "address_street": "1 Main St", "address_city": "Springfield", "address_state": "IL",
        "address_zip_code": "62701", "address_country": "USA", "document_type": "passport", "document_number": "X1234567",
        "document_country": "USA", "employment_status": "employed", "occupation": "Engineer", "pep_status": "not_pep",
        "account_purpose": "receive_payments",
        "identifying_information": [
          { "type": "ssn", "issuing_country": "USA", "number": "123-45-6789" },
          { "type": "passport", "issuing_country": "USA", "number": "X1234567", "image_front": "'"$PASSPORT_FRONT"'" },
          { "type": "file_proof_of_address", "file": "'"$PROOF_OF_ADDRESS"'" } ] }')
expect "$(jq -r .status <<<"$USER")" CREATED "user status on create"
expect "$(jq -r .verification_triggered <<<"$USER")" true "a complete user triggers verification"
USER_ID=$(jq -r .id <<<"$USER")
sleep 3.5
STATUS=$(curl -s "$BASE_URL/v1/users/$USER_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .status)
expect "$STATUS" REVIEW "the sandbox does not auto-verify"

# The Kira contact flips it to VERIFIED.
"$KIRA_WALKTHROUGH" sandbox verify-user "$USER_ID" --url "$BASE_URL" >/dev/null
STATUS=$(curl -s "$BASE_URL/v1/users/$USER_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .status)
expect "$STATUS" VERIFIED "operator verified the user"

# 5. Create a virtual account
VA_BODY='{ "user_id": "'"$USER_ID"'", "type": "US_BANK", "provider": "act", "bank": "slovak_savings_bank", "mode": "fiat" }'
VA=$(curl -s "$BASE_URL/v1/virtual-accounts" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d "$VA_BODY")
expect "$(jq -r .status <<<"$VA")" approved "VA status on the 2026-04-14 pin"
expect "$(jq -r .account_number <<<"$VA")" PENDING-ACT-ACCOUNT "VA not ready yet"
VA_ID=$(jq -r .id <<<"$VA")
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/v1/virtual-accounts" \
  -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" -d "$VA_BODY")
expect "$CODE" 409 "re-creating the VA"
for _ in $(seq 1 50); do
  NUMBER=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .account_number)
  [ "$NUMBER" != PENDING-ACT-ACCOUNT ] && [ "$NUMBER" != null ] && break
  sleep 0.2
done
[[ "$NUMBER" =~ ^[0-9]{10}$ ]] || fail "account number never became real: $NUMBER"
echo "ok VA ready"

# 6. Simulate a deposit
DEPOSIT=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/simulate-deposit" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "amount": "100.00", "currency": "USD" }')
expect "$(jq -r .status <<<"$DEPOSIT")" completed "deposit status"
expect "$(jq -r .settlement_triggered <<<"$DEPOSIT")" false "settlement_triggered"
expect "$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/deposits" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -c .)" "[]" "deposit invisible in the list"

# 7. Make a payout (a recipient first)
RECIPIENT=$(curl -s "$BASE_URL/v1/recipients" \
  -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{ "type": "individual", "user_id": "'"$USER_ID"'", "first_name": "Grace", "last_name": "Hopper",
        "email": "grace@example.com", "phone": "+442071234567",
        "address": { "street_name": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB" },
        "account": { "account_type": "SWIFT", "account_number": "GB29NWBK60161331926819", "swift_code": "NWBKGB2L",
                     "bank_name": "NatWest", "bank_address": { "street_name": "250 Bishopsgate", "city": "London", "country": "GB" } } }')
RECIPIENT_ID=$(jq -r .recipient_id <<<"$RECIPIENT")
# 1. Preview — returns a fee breakdown
PREVIEW=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/payout/preview" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{ "recipient_id": "'"$RECIPIENT_ID"'", "amount": "50.00" }')
expect "$(jq -r .fees.total_fees <<<"$PREVIEW")" 3.00 "preview total_fees"
SMALL=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/payout/preview" \
  -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" -H "Content-Type: application/json" \
  -d '{ "recipient_id": "'"$RECIPIENT_ID"'", "amount": "2.00" }')
expect "$(jq -r .message <<<"$SMALL")" "Total fees exceed or equal the payout amount" "preview below the minimum"
# 2. Create the payout
PAYOUT=$(curl -s "$BASE_URL/v1/virtual-accounts/$VA_ID/payout" \
  -H "Authorization: Bearer $ACCESS_TOKEN" \
  -H "x-api-key: $KIRA_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Idempotency-Key: $(uuidgen)" \
  -d '{ "recipient_id": "'"$RECIPIENT_ID"'", "amount": "50.00" }')
expect "$(jq -r .status <<<"$PAYOUT")" created "payout status on create (lower case)"
PAYOUT_ID=$(jq -r .payout_id <<<"$PAYOUT")
expect "$(curl -s "$BASE_URL/v1/payouts/$PAYOUT_ID" -H "Authorization: Bearer $ACCESS_TOKEN" -H "x-api-key: $KIRA_API_KEY" | jq -r .status)" CREATED "payout status on read (upper case)"
echo "quickstart complete"
