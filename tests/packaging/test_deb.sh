#!/usr/bin/env bash
# Installs the caad .deb on this machine and takes it apart again (issue 7):
# dpkg -i; files, modes and the caad user; systemd-analyze verify on the
# installed unit; `caad --version` and a `caad check` against the test DNS
# world with the installed binary; dpkg -r (conffile kept), dpkg --purge
# (everything gone). Starts no service: CI has no running systemd.
# Needs root, and a machine where caad is not otherwise installed.
# Usage: tests/packaging/test_deb.sh PATH/TO/caad_VERSION_ARCH.deb
set -euo pipefail
deb=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "test_deb: needs root (dpkg -i)" >&2; exit 1; }

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
expect_mode() {  # PATH MODE OWNER:GROUP
  if [ ! -e "$1" ]; then fail "$1 missing"; return; fi
  local got
  got=$(stat -c '%a %U:%G' "$1")
  [ "$got" = "$2 $3" ] && ok "$1 $got" || fail "$1 is $got, want $2 $3"
}

world_pid=
cleanup() {
  if [ -n "$world_pid" ] && kill -0 "$world_pid" 2>/dev/null; then
    kill -TERM "$world_pid"
    wait "$world_pid" || true
  fi
  if dpkg-query -W -f='${Status}' caad 2>/dev/null | grep -q installed; then dpkg --purge caad >/dev/null || true; fi
  rm -rf "${tmp:-/nonexistent}"
}
trap cleanup EXIT
tmp=$(mktemp -d)

if dpkg-query -W -f='${Status}' caad 2>/dev/null | grep -q 'install ok installed'; then
  echo "test_deb: caad is already installed here; refusing to replace it" >&2
  exit 1
fi

echo "== dpkg -i $deb"
dpkg -i "$deb"

expect_mode /usr/bin/caad 755 root:root
expect_mode /usr/bin/caad-status 755 root:root
expect_mode /lib/systemd/system/caad.service 644 root:root
expect_mode /usr/lib/sysusers.d/caad.conf 644 root:root
expect_mode /etc/caad/caad.toml 644 root:root
expect_mode /usr/share/doc/caad/README.md 644 root:root
for page in caad caad-status; do
  if [ -e "$here/../../man/$page.1" ]; then
    expect_mode "/usr/share/man/man1/$page.1.gz" 644 root:root
    gzip -t "/usr/share/man/man1/$page.1.gz" || fail "$page.1.gz is not gzip"
  fi
done
grep -qx /etc/caad/caad.toml /var/lib/dpkg/info/caad.conffiles && ok "caad.toml is a conffile" ||
  fail "/etc/caad/caad.toml is not a conffile"
getent passwd caad >/dev/null && ok "user caad exists" || fail "no caad user after postinst"
getent group caad >/dev/null && ok "group caad exists" || fail "no caad group after postinst"
[ "$(getent passwd caad | cut -d: -f6)" = /var/lib/caad ] || fail "caad's home is not /var/lib/caad"
expect_mode /var/lib/caad 750 caad:caad
# Nothing is enabled or started by the package.
[ ! -e /etc/systemd/system/multi-user.target.wants/caad.service ] && ok "caad.service not enabled" ||
  fail "the package enabled caad.service"

if command -v systemd-analyze >/dev/null; then
  # The installed unit, unchanged: its ExecStart and user now exist. Man
  # pages are checked only where man-db can look them up.
  man_opt=--man=no
  command -v man >/dev/null && man_opt=--man=yes
  out=$(systemd-analyze verify "$man_opt" /lib/systemd/system/caad.service 2>&1) && [ -z "$out" ] &&
    ok "systemd-analyze verify (installed unit)" || fail "systemd-analyze verify: $out"
fi

version=$(caad --version)
[[ "$version" =~ ^caad\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok "caad --version: $version" || fail "caad --version: $version"
caad-status --version >/dev/null && ok "caad-status --version" || fail "caad-status --version"

echo "== caad check against the test DNS world"
python3 "$here/../integration/dnsworld.py" >"$tmp/world.out" 2>"$tmp/world.err" &
world_pid=$!
resolver=
for _ in $(seq 1 300); do
  resolver=$(sed -n 's/^resolver \([^ ]*\) .*/\1/p' "$tmp/world.out")
  [ -n "$resolver" ] && break
  kill -0 "$world_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$resolver" ]; then
  fail "dnsworld.py did not start: $(cat "$tmp/world.err")"
else
  # Run as the caad user, as the service would (its home is the state dir).
  set +e
  out=$(runuser -u caad -- /usr/bin/caad check --resolver "$resolver" own.customer.test shop.customer.test 2>&1)
  rc=$?
  set -e
  echo "$out"
  # own.customer.test permits letsencrypt.org; shop.customer.test inherits digicert.com only.
  if [ $rc -eq 1 ] && grep -Eq "^permitted +[a-z]+ +own\.customer\.test " <<<"$out" &&
     grep -Eq "^denied +[a-z]+ +shop\.customer\.test " <<<"$out"; then
    ok "caad check (exit $rc)"
  else
    fail "caad check exited $rc with unexpected output"
  fi
  kill -TERM "$world_pid"
  wait "$world_pid" || true
  world_pid=
fi

echo "== dpkg -r caad"
echo "# local edit" >> /etc/caad/caad.toml
dpkg -r caad
for f in /usr/bin/caad /usr/bin/caad-status /lib/systemd/system/caad.service /usr/lib/sysusers.d/caad.conf \
         /usr/share/doc/caad/README.md /usr/share/man/man1/caad.1.gz; do
  [ ! -e "$f" ] || fail "$f still there after dpkg -r"
done
[ -e /etc/caad/caad.toml ] && ok "conffile kept after dpkg -r" || fail "conffile removed by dpkg -r"
[ -d /var/lib/caad ] && ok "state kept after dpkg -r" || fail "/var/lib/caad removed by dpkg -r"

echo "== dpkg --purge caad"
dpkg --purge caad
for f in /etc/caad/caad.toml /etc/caad /var/lib/caad; do
  [ ! -e "$f" ] && ok "$f gone after purge" || fail "$f still there after dpkg --purge"
done
dpkg-query -W caad >/dev/null 2>&1 && fail "dpkg still knows caad" || ok "package gone"

if [ "$failures" -ne 0 ]; then
  echo "test_deb: $failures failure(s)" >&2
  exit 1
fi
echo "test_deb: all checks passed"
