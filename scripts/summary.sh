# Sourced by the test scripts: `summarize LINE` adds a line to the closing
# summary that scripts/test.sh prints (when run from it), and echoes it.
summarize() {
  echo "$*"
  if [ -n "${SIGMA_TEST_SUMMARY:-}" ]; then echo "$*" >>"$SIGMA_TEST_SUMMARY"; fi
}
