#!/bin/sh
# Registers Parley's search attributes on a self-hosted Temporal namespace. Run once per namespace
# (docker-compose.yml runs it before the worker and API start); safe to run again at any time.
#
# Without them the conversation workflow's upsertSearchAttributes fails its workflow task and
# conversations stop progressing, so a missing attribute is fatal here rather than a warning.
#
# Temporal Cloud namespaces cannot be changed this way: add the same attributes in the Cloud UI or
# with `tcld namespace search-attributes add`.
#
# Env: TEMPORAL_ADDRESS (host:port), TEMPORAL_NAMESPACE (default: default),
#      SETUP_TIMEOUT_SECONDS (default: 300); for a TLS cluster, Parley's own TEMPORAL_API_KEY,
#      TEMPORAL_TLS, TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME.
set -eu

# The temporal CLI reads these same variables itself (TEMPORAL_TLS_CERT/KEY/CA as aliases of its
# TEMPORAL_TLS_CLIENT_CERT_PATH, …); test/temporal/tls-cluster.test.ts runs this script over TLS.

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must be set, e.g. temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
TIMEOUT="${SETUP_TIMEOUT_SECONDS:-300}"
# Must match searchAttributes in src/conversation/messages.ts.
ATTRIBUTES="ParleyStatus ParleyChannel ParleyQueue ParleyAgent"
TYPE="Keyword"

DEADLINE=$(( $(date +%s) + TIMEOUT ))

# auto-setup creates the namespace in the background after the frontend starts serving, so a
# healthy server does not yet mean the namespace exists.
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

wait_for "Temporal at ${TEMPORAL_ADDRESS}" temporal operator cluster health --address "$TEMPORAL_ADDRESS"
wait_for "namespace ${NAMESPACE}" temporal operator namespace describe --address "$TEMPORAL_ADDRESS" "$NAMESPACE"
wait_for "search attributes of ${NAMESPACE}" list_attributes

for name in $ATTRIBUTES; do
  current="$(registered_type "$name")"
  if [ -z "$current" ]; then
    echo "[parley-setup] creating ${name} (${TYPE}) on ${NAMESPACE}"
    # A failure is fine when someone else registered it meanwhile ("already exists"); the re-read
    # below decides.
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$TYPE" || true
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
