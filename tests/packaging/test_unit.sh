#!/bin/sh
# Checks systemd/caad.service with systemd-analyze, against the built binary.
#
# `systemd-analyze verify` exits 0 on many mistakes that systemd itself only
# logs and ignores (a misspelt Restart= value, an unknown key), so any output
# at all counts as a failure here. The unit names /usr/bin/caad, which a
# build machine does not have: a copy whose ExecStart points at the build's
# binary is checked instead. The installed unit is verified again, unchanged,
# by tests/packaging/test_deb.sh. Man page references are not checked here
# (the pages are installed only by the package).
#
# Also fails if the `systemd-analyze security` exposure level rises above
# the figure the README states (plus a little), so that a hardening line
# dropped by mistake is noticed.
#
# Usage: test_unit.sh UNIT_FILE CAAD_BINARY   (exit 77: skipped, no systemd-analyze)
set -u
unit=$1 bin=$2
max_exposure=2.0
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found; skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/caad#$bin#g" "$unit" > "$dir/caad.service"
out=$(systemd-analyze verify --man=no "$dir/caad.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
  echo "systemd-analyze verify (exit $rc) found problems in $unit:"
  echo "$out"
  exit 1
fi
echo "systemd-analyze verify: clean"
sec=$(systemd-analyze security --offline=true --no-pager "$dir/caad.service" 2>&1)
level=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for caad.service: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
  echo "systemd-analyze security gave no exposure level:"
  echo "$sec"
  exit 1
fi
echo "systemd-analyze security: exposure $level (at most $max_exposure allowed)"
if ! awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }'; then
  printf '%s\n' "$sec" | grep '✗'
  exit 1
fi
