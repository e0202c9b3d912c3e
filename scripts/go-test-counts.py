"""Reads `go test -json` on stdin: prints the output of failed tests and one
line of counts (top-level tests; subtests are counted within them); exits 1 if
anything failed."""

import json
import sys

passed, failed, skipped, output = set(), set(), set(), {}
packages_failed = []
for line in sys.stdin:
    if not line.startswith("{"):
        print(line, end="")  # build errors and the like
        continue
    event = json.loads(line)
    test, action = event.get("Test"), event.get("Action")
    if test is None:
        if action == "fail":
            packages_failed.append(event.get("Package", "?"))
        continue
    output.setdefault(test, []).append(event.get("Output", ""))
    if "/" in test:
        continue
    if action == "pass":
        passed.add(test)
    elif action == "fail":
        failed.add(test)
    elif action == "skip":
        skipped.add(test)
for test in sorted(failed):
    print("".join(output.get(test, [])), end="")
print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
sys.exit(1 if failed or packages_failed else 0)
