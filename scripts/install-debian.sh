#!/usr/bin/env bash
# Install Debian packages the project needs, without letting their postinst start system services
# (they would listen on all interfaces; tests and the demo run their own instances on 127.0.0.1).
# Idempotent: packages already installed are skipped, and nothing runs when all are present.
#   usage: scripts/install-debian.sh PACKAGE...
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-debian: missing Debian packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "install-debian: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
had_policy=0
[[ -e $policy ]] && had_policy=1
if [[ $had_policy -eq 0 ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
# Request Tracker asks debconf questions: answer them for a non-interactive install (SQLite, no cron).
if printf '%s\n' "${missing[@]}" | grep -q '^request-tracker5$'; then
  debconf-set-selections <<'SEL'
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/initial-root-password password aiopsd-test-root
request-tracker5 request-tracker5/dbconfig-install boolean false
rt5-db-sqlite rt5-db-sqlite/dbconfig-install boolean false
SEL
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/update-success-stamp
if [[ ! -d /var/lib/apt/lists/partial ]] || [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
  apt-get -o DPkg::Lock::Timeout=900 update -qq
fi
# other engineers may be installing at the same time: wait for dpkg's lock instead of failing
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Stop anything a package started despite the policy (belt and braces), and keep it from starting at boot.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter postgresql exim4; do
  if command -v systemctl >/dev/null && systemctl is-enabled "$svc" >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
: "$stamp"
