# kira-walkthrough's curl export: the helpers every exported script starts with (checks, the
# request function, conditions, captures, bounded polling, the amount search and the emulator's
# operator controls). Generic: nothing in here knows the flow. The generated script sets
# api_version, the version the flow pins, after this prelude. This file is embedded in the binary
# (Sources/Exports/Resources/prelude.sh) and checked with bash -n and shellcheck by ExportTests.

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
# The jq definitions flow conditions are compiled against (Sources/Exports/JQConditionCompiler.swift),
# so that the script decides exactly what the walkthrough's engine decides:
#   value_at(p)  the value at a path, null where the document has no such place;
#   text_of      a value as text: a string bare, anything else as JSON;
#   lower        lower case as Swift's String.lowercased(): each code point by Unicode's lowercase
#                mapping, from lower_ranges ([first, last, delta, step]: every step-th code point
#                from first to last becomes itself + delta) and the one mapping to two code points
#                (U+0130). ExportTests checks the table against Swift.
# shellcheck disable=SC2016  # a jq program: its $c is jq's, not the shell's.
JQ_PRELUDE='
def value_at(p): try getpath(p) catch null;
def text_of: if type == "string" then . elif type == "null" then "null" else tojson end;
def lower_ranges: [
  [65,90,32,1],[192,214,32,1],[216,222,32,1],[256,302,1,2],[306,310,1,2],[313,327,1,2],
  [330,374,1,2],[376,376,-121,1],[377,381,1,2],[385,385,210,1],[386,388,1,2],[390,390,206,1],
  [391,391,1,1],[393,394,205,1],[395,395,1,1],[398,398,79,1],[399,399,202,1],[400,400,203,1],
  [401,401,1,1],[403,403,205,1],[404,404,207,1],[406,406,211,1],[407,407,209,1],[408,408,1,1],
  [412,412,211,1],[413,413,213,1],[415,415,214,1],[416,420,1,2],[422,422,218,1],[423,423,1,1],
  [425,425,218,1],[428,428,1,1],[430,430,218,1],[431,431,1,1],[433,434,217,1],[435,437,1,2],
  [439,439,219,1],[440,440,1,1],[444,444,1,1],[452,452,2,1],[453,453,1,1],[455,455,2,1],
  [456,456,1,1],[458,458,2,1],[459,475,1,2],[478,494,1,2],[497,497,2,1],[498,500,1,2],
  [502,502,-97,1],[503,503,-56,1],[504,542,1,2],[544,544,-130,1],[546,562,1,2],[570,570,10795,1],
  [571,571,1,1],[573,573,-163,1],[574,574,10792,1],[577,577,1,1],[579,579,-195,1],[580,580,69,1],
  [581,581,71,1],[582,590,1,2],[880,882,1,2],[886,886,1,1],[895,895,116,1],[902,902,38,1],
  [904,906,37,1],[908,908,64,1],[910,911,63,1],[913,929,32,1],[931,939,32,1],[975,975,8,1],
  [984,1006,1,2],[1012,1012,-60,1],[1015,1015,1,1],[1017,1017,-7,1],[1018,1018,1,1],
  [1021,1023,-130,1],[1024,1039,80,1],[1040,1071,32,1],[1120,1152,1,2],[1162,1214,1,2],
  [1216,1216,15,1],[1217,1229,1,2],[1232,1326,1,2],[1329,1366,48,1],[4256,4293,7264,1],
  [4295,4295,7264,1],[4301,4301,7264,1],[5024,5103,38864,1],[5104,5109,8,1],[7305,7305,1,1],
  [7312,7354,-3008,1],[7357,7359,-3008,1],[7680,7828,1,2],[7838,7838,-7615,1],[7840,7934,1,2],
  [7944,7951,-8,1],[7960,7965,-8,1],[7976,7983,-8,1],[7992,7999,-8,1],[8008,8013,-8,1],
  [8025,8031,-8,2],[8040,8047,-8,1],[8072,8079,-8,1],[8088,8095,-8,1],[8104,8111,-8,1],
  [8120,8121,-8,1],[8122,8123,-74,1],[8124,8124,-9,1],[8136,8139,-86,1],[8140,8140,-9,1],
  [8152,8153,-8,1],[8154,8155,-100,1],[8168,8169,-8,1],[8170,8171,-112,1],[8172,8172,-7,1],
  [8184,8185,-128,1],[8186,8187,-126,1],[8188,8188,-9,1],[8486,8486,-7517,1],[8490,8490,-8383,1],
  [8491,8491,-8262,1],[8498,8498,28,1],[8544,8559,16,1],[8579,8579,1,1],[9398,9423,26,1],
  [11264,11311,48,1],[11360,11360,1,1],[11362,11362,-10743,1],[11363,11363,-3814,1],
  [11364,11364,-10727,1],[11367,11371,1,2],[11373,11373,-10780,1],[11374,11374,-10749,1],
  [11375,11375,-10783,1],[11376,11376,-10782,1],[11378,11378,1,1],[11381,11381,1,1],
  [11390,11391,-10815,1],[11392,11490,1,2],[11499,11501,1,2],[11506,11506,1,1],[42560,42604,1,2],
  [42624,42650,1,2],[42786,42798,1,2],[42802,42862,1,2],[42873,42875,1,2],[42877,42877,-35332,1],
  [42878,42886,1,2],[42891,42891,1,1],[42893,42893,-42280,1],[42896,42898,1,2],[42902,42920,1,2],
  [42922,42922,-42308,1],[42923,42923,-42319,1],[42924,42924,-42315,1],[42925,42925,-42305,1],
  [42926,42926,-42308,1],[42928,42928,-42258,1],[42929,42929,-42282,1],[42930,42930,-42261,1],
  [42931,42931,928,1],[42932,42946,1,2],[42948,42948,-48,1],[42949,42949,-42307,1],
  [42950,42950,-35384,1],[42951,42953,1,2],[42955,42955,-42343,1],[42956,42970,1,2],
  [42972,42972,-42561,1],[42997,42997,1,1],[65313,65338,32,1],[66560,66599,40,1],
  [66736,66771,40,1],[66928,66938,39,1],[66940,66954,39,1],[66956,66962,39,1],[66964,66965,39,1],
  [68736,68786,64,1],[68944,68965,32,1],[71840,71871,32,1],[93760,93791,32,1],[93856,93880,27,1],
  [125184,125217,34,1]
];
def lower: [explode[]
  | if . < 65 then . elif . <= 90 then . + 32 elif . < 192 then . elif . == 304 then 105, 775
    else . as $c | ((first(lower_ranges[] | select(.[0] <= $c and $c <= .[1] and ($c - .[0]) % .[3] == 0)) | $c + .[2]) // $c)
    end] | implode;
'

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
  if ! [[ $2 =~ ^[0-9]{1,12}(\.[0-9]{1,2})?$ ]] || [ "$(to_cents "$2")" -le 0 ]; then
    die "$1 must be an amount such as 100.00 (more than zero, at most two decimals), not '$2'"
  fi
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

# set_headers: the header lines on standard input, with the request's own headers applied:
# SET_HEADERS holds one "name: value" per line (the value replaces the header) or "name:" (the
# header is left out), names in lower case, as a flow's `headers:` says.
set_headers() {
  local _line _set _drop
  while IFS= read -r _line; do
    _drop=no
    while IFS= read -r _set; do
      if [ -n "$_set" ] && [ "${_line%%:*}" = "${_set%%:*}" ]; then _drop=yes; fi
    done <<<"${SET_HEADERS-}"
    if [ "$_drop" = no ]; then printf '%s\n' "$_line"; fi
  done
  while IFS= read -r _set; do
    case $_set in '' | *:) ;; *) printf '%s\n' "$_set" ;; esac
  done <<<"${SET_HEADERS-}"
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
    # shellcheck disable=SC2154  # api_version is set by the generated script, after this prelude.
    if [ -z "$PINNED_VERSION" ]; then printf 'x-api-version: %s\n' "$api_version"; fi
    if [ -n "$_key" ]; then printf 'idempotency-key: %s\n' "$_key"; fi
    if [ -n "$_body" ]; then printf 'content-type: application/json\n'; fi
  } | set_headers >"$HEADER_FILE"
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
# A condition jq cannot evaluate is an error, never a silent "no". The body is read with --rawfile:
# jq 1.6's -R splits a four-byte character that straddles byte 4096 into two U+FFFD.
response_matches() {
  local _condition=$1 _result=0
  shift
  jq -ne --argjson status "$STATUS" --rawfile raw "$RESPONSE_FILE" ${1+"$@"} \
    "$JQ_PRELUDE"' ($raw | try fromjson catch null) as $json | ('"$_condition"')' >/dev/null || _result=$?
  case $_result in
    0 | 1) return "$_result" ;;
    *) die "jq could not evaluate a flow condition (exit $_result): $_condition" ;;
  esac
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
  local _variable=$1 _span=$2 _max=$3 _send=$4 _expected=$5 _quirk=$6 _failing _passing="" _probe _calls=0 _statuses
  shift 6
  read -ra _statuses <<<"$_expected"
  _failing=$(to_cents "${!_variable}")
  _probe=$((_failing + _span))
  while :; do
    printf -v "$_variable" '%s' "$(from_cents "$_probe")"
    printf '  probe %s of at most %s: %s\n' $((_calls + 1)) "$_max" "${!_variable}"
    "$_send"
    _calls=$((_calls + 1))
    if status_is "${_statuses[@]}"; then
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

# emulator_operator VERB ID [COLLECTION]: what your Kira contact would do to a user (verify or
# reject), or to another resource of COLLECTION (clear-rfi a virtual account), done by the emulator's
# controls; only ever called after is_emulator.
emulator_operator() {
  local _url="${KIRA_BASE_URL%/sandbox}/__emulator/users/$2/$1"
  if [ -n "${3:-}" ]; then _url="${KIRA_BASE_URL%/sandbox}/__emulator/$3/$2/$1"; fi
  {
    printf 'accept: application/json\n'
    if [ -n "${KIRA_EMULATOR_ADMIN_TOKEN:-}" ]; then printf 'x-admin-token: %s\n' "$KIRA_EMULATOR_ADMIN_TOKEN"; fi
  } >"$HEADER_FILE"
  printf '☎ POST %s (the emulator standing in for your Kira contact)\n' "$_url"
  STATUS=$(curl -sS --max-time 10 -X POST -H @"$HEADER_FILE" -o "$RESPONSE_FILE" -w '%{http_code}' "$_url") || STATUS=000
  case $STATUS in 2??) ;; *) die "the emulator did not $1 ${3:-user} $2 (HTTP $STATUS)" ;; esac
}
