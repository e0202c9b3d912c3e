# Sourced by the other scripts: start_mock [args...] starts sigma-mock in the
# background, sets MOCK_URL and MOCK_PID, and stops it when the script exits.
# Needs PROFILE (debug or release) and the binary already built.

start_mock() {
  local out
  out=$(mktemp)
  "target/${PROFILE:-debug}/sigma-mock" "$@" >"$out" &
  MOCK_PID=$!
  MOCK_PIDS="${MOCK_PIDS:-} $MOCK_PID"
  trap 'kill $MOCK_PIDS 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    MOCK_URL=$(head -n1 "$out")
    [ -n "$MOCK_URL" ] && break
    sleep 0.05
  done
  rm -f "$out"
  if [ -z "$MOCK_URL" ]; then
    echo "sigma-mock did not start" >&2
    return 1
  fi
}

stop_mock() {
  kill "$MOCK_PID" 2>/dev/null || true
  wait "$MOCK_PID" 2>/dev/null || true
}
