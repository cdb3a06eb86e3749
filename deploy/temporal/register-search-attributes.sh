#!/bin/sh
# Creates Parley's namespace on a self-hosted Temporal cluster when it is missing, and registers
# Parley's search attributes on it. Run once per namespace (docker-compose.yml runs it before the
# worker and API start; the cluster drills run this same script); safe to run again at any time.
#
# Without them the conversation workflow's upsertSearchAttributes fails its workflow task and
# conversations stop progressing, so a missing attribute is fatal here rather than a warning.
#
# Temporal Cloud namespaces cannot be changed this way: add the same attributes in the Cloud UI or
# with `tcld namespace search-attributes add`.
#
# Env: TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE (default: default),
#      TEMPORAL_NAMESPACE_RETENTION (default: 72h; only used when the namespace is created: closed
#      conversations stay visible in the UI this long), SETUP_TIMEOUT_SECONDS (default: 300);
#      for a TLS cluster, Parley's own TEMPORAL_API_KEY, TEMPORAL_TLS,
#      TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME.
set -eu

# The temporal CLI reads these same variables itself (TEMPORAL_TLS_CERT/KEY/CA as aliases of its
# TEMPORAL_TLS_CLIENT_CERT_PATH, …); test/temporal/tls-cluster.test.ts runs this script over TLS.

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must be set, e.g. temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
TIMEOUT="${SETUP_TIMEOUT_SECONDS:-300}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
# Must match searchAttributes in src/conversation/messages.ts.
ATTRIBUTES="ParleyStatus ParleyChannel ParleyQueue ParleyAgent"
TYPE="Keyword"

DEADLINE=$(( $(date +%s) + TIMEOUT ))

wait_for() {
  what="$1"; shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$DEADLINE" ]; then
      echo "[parley-setup] gave up after ${TIMEOUT}s waiting for ${what}" >&2
      exit 1
    fi
    echo "[parley-setup] waiting for ${what}"
    sleep 2
  done
}

list_attributes() {
  temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE"
}

# Prints the registered type of $1 (empty when absent). The list is a "Name  Type" table.
registered_type() {
  list_attributes 2>/dev/null | awk -v name="$1" '$1 == name { print $2 }'
}

describe_namespace() {
  temporal operator namespace describe --address "$TEMPORAL_ADDRESS" "$NAMESPACE"
}

wait_for "Temporal at ${TEMPORAL_ADDRESS}" temporal operator cluster health --address "$TEMPORAL_ADDRESS"
if ! describe_namespace >/dev/null 2>&1; then
  echo "[parley-setup] creating namespace ${NAMESPACE} (retention ${RETENTION})"
  # A failure is fine when someone else created it meanwhile, or when the caller may not create
  # namespaces (a managed cluster): the wait below decides.
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" --retention "$RETENTION" "$NAMESPACE" || true
fi
wait_for "namespace ${NAMESPACE}" describe_namespace
wait_for "search attributes of ${NAMESPACE}" list_attributes

# A new namespace reaches every frontend's cache a few seconds after it exists, and a create sent
# before that fails: retried until the deadline.
create_attribute() {
  temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
    --name "$1" --type "$TYPE" || true
  [ -n "$(registered_type "$1")" ]
}

for name in $ATTRIBUTES; do
  current="$(registered_type "$name")"
  if [ -z "$current" ]; then
    echo "[parley-setup] creating ${name} (${TYPE}) on ${NAMESPACE}"
    # A failure is fine when someone else registered it meanwhile ("already exists"); the re-read
    # decides.
    wait_for "${name} to be registered" create_attribute "$name"
    current="$(registered_type "$name")"
  fi
  # The list prints the type as Keyword (or KEYWORD / INDEXED_VALUE_TYPE_KEYWORD in some versions).
  case "$(printf '%s' "$current" | tr '[:lower:]' '[:upper:]')" in
    KEYWORD|INDEXED_VALUE_TYPE_KEYWORD)
      echo "[parley-setup] ${name}: ${TYPE} on ${NAMESPACE}" ;;
    "")
      echo "[parley-setup] ${name} is not registered on ${NAMESPACE} and could not be created" >&2
      exit 1 ;;
    *)
      # A different type cannot be changed in place; Parley would write strings into it and fail.
      echo "[parley-setup] ${name} exists on ${NAMESPACE} as ${current}, Parley needs ${TYPE}" >&2
      exit 1 ;;
  esac
done

echo "[parley-setup] search attributes ready on ${NAMESPACE}"
