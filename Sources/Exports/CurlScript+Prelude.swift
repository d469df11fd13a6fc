import Foundation
import WalkthroughCore

extension CurlScript {
    /// The helpers every exported script starts with: checks, the request function, conditions,
    /// captures, bounded polling, the amount search and the emulator's operator controls. Generic:
    /// nothing in here knows the flow.
    static func prelude(apiVersionVariable: String) -> String {
        #"""
        die() { printf 'error: %s\n' "$*" >&2; exit 1; }
        stop() { printf '\n⏸ %s\n' "$*" >&2; exit 3; }

        WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kira-walkthrough.XXXXXX")
        trap 'rm -rf "$WORK_DIR"' EXIT
        RESPONSE_FILE="$WORK_DIR/response"
        HEADER_FILE="$WORK_DIR/headers"
        STATUS=""
        BEARER_TOKEN=""
        PINNED_VERSION=""
        EMULATOR=""
        SUPPRESSED=" "
        NOTED=" "
        REMEDIES=" "
        ROUNDS=0
        JQ_PRELUDE='def value_at(p): try getpath(p) catch null; def text_of: if type == "string" then . elif type == "null" then "null" else tojson end;'

        # new_uuid: a fresh UUID v4 (idempotency keys, generated inputs).
        new_uuid() {
          if command -v uuidgen >/dev/null 2>&1; then
            uuidgen | tr '[:upper:]' '[:lower:]'
          elif [ -r /proc/sys/kernel/random/uuid ]; then
            cat /proc/sys/kernel/random/uuid
          else
            die "cannot make a UUID: install uuidgen (Debian: apt-get install uuid-runtime)"
          fi
        }

        # to_cents AMOUNT / from_cents CENTS: "12.3" <-> 1230.
        to_cents() {
          local _whole=${1%%.*} _fraction=""
          case $1 in *.*) _fraction=${1#*.} ;; esac
          _fraction="${_fraction}00"
          echo $((10#${_whole:-0} * 100 + 10#${_fraction:0:2}))
        }
        from_cents() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

        # check_amount NAME VALUE / check_uuid NAME VALUE: the formats of the flow's inputs.
        check_amount() {
          [[ $2 =~ ^[0-9]{1,12}(\.[0-9]{1,2})?$ ]] && [ "$(to_cents "$2")" -gt 0 ] ||
            die "$1 must be an amount such as 100.00 (more than zero, at most two decimals), not '$2'"
        }
        check_uuid() {
          [[ $2 =~ ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ ]] || die "$1 must be a UUID, not '$2'"
        }

        # step_begin NUMBER TOTAL TITLE: a step starts; what the last one noted or silenced is forgotten.
        step_begin() {
          printf '\n━━ Step %s of %s · %s ━━\n' "$1" "$2" "$3"
          SUPPRESSED=" " NOTED=" " REMEDIES=" " ROUNDS=0
        }

        # step_round STEP: bounds how often a step goes round (retries, restarts).
        step_round() {
          ROUNDS=$((ROUNDS + 1))
          [ "$ROUNDS" -le 50 ] || die "step $1 went round more than 50 times; giving up"
        }

        # send_request METHOD PATH AUTH IDEMPOTENCY_KEY [BODY]: one call to the API with the headers AUTH
        # names (x-api-key unless none, a bearer token for bearer), X-Api-Version until the pin and the
        # Idempotency-Key of a creating call. Retries, with a growing pause, only what cannot duplicate
        # anything (GET, keyed calls, and calls made with SAFE_TO_REPEAT=yes). Sets STATUS; the body is
        # in $RESPONSE_FILE. Credentials go through a private header file, never the command line.
        send_request() {
          local _method=$1 _path=$2 _auth=$3 _key=$4 _body=${5-} _attempt=1 _retryable=no
          {
            printf 'accept: application/json\n'
            printf 'user-agent: kira-walkthrough-export\n'
            if [ "$_auth" != none ]; then printf 'x-api-key: %s\n' "$KIRA_API_KEY"; fi
            if [ "$_auth" = bearer ]; then printf 'authorization: Bearer %s\n' "$BEARER_TOKEN"; fi
            if [ -z "$PINNED_VERSION" ]; then printf 'x-api-version: %s\n' "$\#(apiVersionVariable)"; fi
            if [ -n "$_key" ]; then printf 'idempotency-key: %s\n' "$_key"; fi
            if [ -n "$_body" ]; then printf 'content-type: application/json\n'; fi
          } >"$HEADER_FILE"
          if [ "$_method" = GET ] || [ -n "$_key" ] || [ "${SAFE_TO_REPEAT-}" = yes ]; then _retryable=yes; fi
          printf '→ %s %s\n' "$_method" "$_path"
          while :; do
            if [ -n "$_body" ]; then
              STATUS=$(printf '%s' "$_body" | curl -sS --max-time 30 -X "$_method" -H @"$HEADER_FILE" --data-binary @- \
                -o "$RESPONSE_FILE" -w '%{http_code}' "$KIRA_BASE_URL$_path") || STATUS=000
            else
              STATUS=$(curl -sS --max-time 30 -X "$_method" -H @"$HEADER_FILE" \
                -o "$RESPONSE_FILE" -w '%{http_code}' "$KIRA_BASE_URL$_path") || STATUS=000
            fi
            case $STATUS in
              000 | 429 | 502 | 503 | 504)
                if [ "$_retryable" = yes ] && [ "$_attempt" -lt 4 ]; then
                  printf '  ↻ HTTP %s; trying again in %s s\n' "$STATUS" "$_attempt"
                  sleep "$_attempt"
                  _attempt=$((_attempt + 1))
                  continue
                fi
                ;;
            esac
            break
          done
          [ "$STATUS" != 000 ] || die "no answer from $KIRA_BASE_URL$_path (is KIRA_BASE_URL right?)"
          printf '← %s%s\n' "$STATUS" "$(response_summary)"
        }

        # response_summary: " (code: message)" of an error answer.
        response_summary() {
          case $STATUS in
            2??) ;;
            *) jq -r '[.code?, .message?] | map(select(type == "string")) | if length > 0 then " (" + join(": ") + ")" else "" end' \
                 "$RESPONSE_FILE" 2>/dev/null || true ;;
          esac
        }

        # status_is STATUS…: whether the last answer had one of these statuses.
        status_is() {
          local _expected
          for _expected in "$@"; do [ "$STATUS" != "$_expected" ] || return 0; done
          return 1
        }

        # response_matches CONDITION [jq options…]: whether the last answer satisfies a flow condition, a jq
        # expression over $status, $json (the body, or null when it is not JSON) and $raw (the body as text).
        response_matches() {
          local _condition=$1
          shift
          jq -Rse --argjson status "$STATUS" ${1+"$@"} \
            "$JQ_PRELUDE"' . as $raw | (try fromjson catch null) as $json | ('"$_condition"')' "$RESPONSE_FILE" >/dev/null 2>&1
        }

        # capture NAME PATHS [lenient]: keeps a value of the last answer, the first of the alternative paths
        # that has one (Q-SHAPES: the same value is bare here, under data there).
        capture() {
          local _value
          _value=$(jq -rc "($2) // empty" "$RESPONSE_FILE" 2>/dev/null) || _value=""
          if [ -z "$_value" ]; then
            [ "${3-}" = lenient ] || die "the answer has no $2 to capture as $1"
            return 0
          fi
          printf -v "$1" '%s' "$_value"
          if [ "${3-}" != lenient ]; then printf '  captured %s = %s\n' "$1" "$_value"; fi
        }

        # capture_secret NAME PATHS: the same for a token: kept in this script's environment, never printed.
        capture_secret() {
          local _value
          _value=$(jq -rc "($2) // empty" "$RESPONSE_FILE" 2>/dev/null) || _value=""
          [ -n "$_value" ] || die "the answer has no $2 to capture as $1"
          printf -v "$1" '%s' "$_value"
          export "${1?}"
          printf '  captured %s (secret, not shown)\n' "$1"
        }

        # need REQUEST NAME…: the values a request is built from were captured by the requests before it.
        need() {
          local _request=$1 _name
          shift
          for _name in "$@"; do
            [ -n "${!_name:-}" ] || die "$_request needs $_name, which no earlier request captured"
          done
        }

        # unexpected REQUEST EXPECTED: an answer the flow has no rule for; secrets in it are masked.
        unexpected() {
          printf 'error: %s answered HTTP %s, expected %s:\n' "$1" "$STATUS" "$2" >&2
          jq 'walk(if type == "object" then with_entries(if (.key | ascii_downcase | test("^(password|access_token|refresh_token|token|api_key|secret|client_secret)$")) then .value = "[REDACTED]" else . end) else . end)' \
            "$RESPONSE_FILE" >&2 2>/dev/null || head -c 2000 "$RESPONSE_FILE" >&2 || true
          exit 1
        }

        # quirk ID EXPLANATION: the flow met a known sandbox quirk that stops it until a remedy is taken.
        quirk() { printf '\n⚑ %s — a known sandbox quirk:\n  %s\n' "$1" "$2"; }

        # note ID EXPLANATION: a known quirk worth knowing that stops nothing; once per step.
        note() {
          case $NOTED in *" $1 "*) return 0 ;; esac
          NOTED="$NOTED$1 "
          printf 'ℹ %s: %s\n' "$1" "$2"
        }

        # suppress ID / suppressed ID: a quirk a wait no longer stops on in this step.
        suppress() { SUPPRESSED="$SUPPRESSED$1 "; }
        suppressed() { case $SUPPRESSED in *" $1 "*) return 0 ;; esac; return 1; }

        # remedy_taken QUIRK#N LABEL: a way past a quirk; like the walkthrough, at most 3 times a step.
        remedy_taken() {
          local _uses=0 _entry
          for _entry in $REMEDIES; do [ "$_entry" != "$1" ] || _uses=$((_uses + 1)); done
          [ "$_uses" -lt 3 ] || die "'$2' was already tried 3 times in this step; giving up"
          REMEDIES="$REMEDIES$1 "
          printf '  ➜ %s\n' "$2"
        }

        # poll_start TIMEOUT INTERVAL BACKOFF MAX_INTERVAL: a bounded wait begins (KIRA_WAIT_TIMEOUT, in
        # seconds, overrides the flow's timeout).
        poll_start() {
          POLL_TIMEOUT=${KIRA_WAIT_TIMEOUT:-$1}
          case $POLL_TIMEOUT in '' | *[!0-9.]* | .*) die "KIRA_WAIT_TIMEOUT must be a number of seconds, not '$POLL_TIMEOUT'" ;; esac
          POLL_DEADLINE=$((SECONDS + ${POLL_TIMEOUT%.*}))
          POLL_INTERVAL=$2 POLL_BACKOFF=$3 POLL_MAX=$4 POLL_COUNT=0
        }

        # poll_next QUIRK EXPLANATION: pauses before the next poll, each pause longer up to the longest, or
        # stops (exit 3) once the wait's timeout would pass: only a person can go on then.
        poll_next() {
          local _pause=${POLL_INTERVAL%.*}
          POLL_COUNT=$((POLL_COUNT + 1))
          if [ $((SECONDS + ${_pause:-0})) -ge "$POLL_DEADLINE" ]; then
            stop "Waited $POLL_TIMEOUT s ($POLL_COUNT polls) and the condition still does not hold. $1: $2 Run this again later, or set KIRA_WAIT_TIMEOUT higher."
          fi
          printf '  … poll %s, next in %s s (%s)\n' "$POLL_COUNT" "$POLL_INTERVAL" "$1"
          sleep "$POLL_INTERVAL"
          POLL_INTERVAL=$(awk -v i="$POLL_INTERVAL" -v b="$POLL_BACKOFF" -v m="$POLL_MAX" 'BEGIN { n = i * b; if (n > m) n = m; printf "%g", n }')
        }

        # search_amount VARIABLE SPAN_CENTS MAX_CALLS SEND EXPECTED QUIRK_CONDITION [jq options…]: finds the
        # smallest amount a request accepts by bisection (Q-PAYOUT-MIN: there is no fee schedule endpoint):
        # one probe at the top of the span, then halving to the cent, at most MAX_CALLS calls.
        search_amount() {
          local _variable=$1 _span=$2 _max=$3 _send=$4 _expected=$5 _quirk=$6 _failing _passing="" _probe _calls=0
          shift 6
          _failing=$(to_cents "${!_variable}")
          _probe=$((_failing + _span))
          while :; do
            printf -v "$_variable" '%s' "$(from_cents "$_probe")"
            printf '  probe %s of at most %s: %s\n' $((_calls + 1)) "$_max" "${!_variable}"
            "$_send"
            _calls=$((_calls + 1))
            if status_is $_expected; then
              _passing=$_probe
            elif response_matches "$_quirk" ${1+"$@"}; then
              _failing=$_probe
            else
              unexpected "a search probe" "$_expected"
            fi
            if [ -n "$_passing" ]; then
              if [ $((_passing - _failing)) -le 1 ] || [ "$_calls" -ge "$_max" ]; then
                printf -v "$_variable" '%s' "$(from_cents "$_passing")"
                printf '  ✓ the smallest amount accepted is %s (%s calls); %s is now %s\n' "${!_variable}" "$_calls" "$_variable" "${!_variable}"
                return 0
              fi
              _probe=$(((_failing + _passing) / 2))
            else
              [ "$_calls" -lt "$_max" ] || die "every probe up to $(from_cents "$_probe") was refused: the minimum is higher than that"
              _probe=$((_failing + _span))
            fi
          done
        }

        # is_emulator: whether KIRA_BASE_URL is this project's local emulator (its /healthz says so).
        is_emulator() {
          if [ -z "$EMULATOR" ]; then
            EMULATOR=no
            if curl -sS --max-time 5 "${KIRA_BASE_URL%/sandbox}/healthz" 2>/dev/null | jq -e '.service == "kira-sandbox-emulator"' >/dev/null 2>&1; then
              EMULATOR=yes
            fi
          fi
          [ "$EMULATOR" = yes ]
        }

        # emulator_operator VERB ID: what your Kira contact would do to a user (verify or reject), done by
        # the emulator's controls; only ever called after is_emulator.
        emulator_operator() {
          local _url="${KIRA_BASE_URL%/sandbox}/__emulator/users/$2/$1"
          {
            printf 'accept: application/json\n'
            if [ -n "${KIRA_EMULATOR_ADMIN_TOKEN:-}" ]; then printf 'x-admin-token: %s\n' "$KIRA_EMULATOR_ADMIN_TOKEN"; fi
          } >"$HEADER_FILE"
          printf '☎ POST %s (the emulator standing in for your Kira contact)\n' "$_url"
          STATUS=$(curl -sS --max-time 10 -X POST -H @"$HEADER_FILE" -o "$RESPONSE_FILE" -w '%{http_code}' "$_url") || STATUS=000
          case $STATUS in 2??) ;; *) die "the emulator did not $1 user $2 (HTTP $STATUS)" ;; esac
        }
        """#
    }
}
