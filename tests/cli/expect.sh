#!/bin/sh
# Runs a command and checks its exit status and that its output (stdout and
# stderr together) matches an extended regular expression.
# Usage: expect.sh STATUS REGEX COMMAND [ARGS...]
want_status=$1 regex=$2
shift 2
out=$("$@" 2>&1)
status=$?
if [ "$status" -ne "$want_status" ]; then
  printf 'expected exit status %s, got %s from: %s\n%s\n' "$want_status" "$status" "$*" "$out" >&2
  exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then
  printf 'output of %s does not match /%s/:\n%s\n' "$*" "$regex" "$out" >&2
  exit 1
fi
