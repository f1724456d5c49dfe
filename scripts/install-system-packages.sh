#!/usr/bin/env bash
# Install the Debian packages that jiayi's tests and reports need, and only those that are missing.
#
#   chromium          headless browser for the browser tests (Playwright drives /usr/bin/chromium;
#                     Playwright's own browser download cannot work without internet)
#   fonts-wqy-zenhei  a CJK font, so that screenshots and PDF reports show Chinese instead of boxes
#   gettext           msgfmt, which `jiayi compilemessages` calls
#   poppler-utils     pdftotext/pdftoppm, which the report tests use to read generated PDFs
#   poppler-data      CJK encodings for poppler, so pdftotext reads Chinese text in PDFs
#   postgresql-client pg_dump/pg_restore, which `jiayi backup`/`jiayi restore` call for PostgreSQL
#   openjdk-17-jre-headless  only when java is absent: Apache Spark (the city-scale indicator engine)
#   nodejs, npm       only when npm is absent: `npm ci` fetches the front-end libraries
#
# Safe to run on every `make install`: when everything is present it only asks dpkg and exits,
# without touching the network. Extra package names may be given as arguments.
set -euo pipefail

packages=(chromium fonts-wqy-zenhei gettext poppler-utils poppler-data postgresql-client)
if ! command -v java >/dev/null 2>&1; then
    packages+=(openjdk-17-jre-headless)
fi
if ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi
packages+=("$@")

is_installed() {
    # `dpkg -s` also succeeds for a removed package whose config files remain, so check the status line.
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

if ! command -v dpkg >/dev/null 2>&1; then
    echo "install-system-packages: no dpkg here (not Debian/Ubuntu); make sure these are installed:" \
        "${packages[*]}" >&2
    exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if (( ${#missing[@]} == 0 )); then
    exit 0
fi

# Root installs directly; otherwise use sudo only if it works without a password prompt, since
# `make install` must never hang waiting for input (CI has no standard input).
if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    cat >&2 <<MSG
install-system-packages: WARNING: missing Debian packages: ${missing[*]}
  Not running as root, so they were not installed. Without them the browser tests, PDF checks or
  translations will fail or be skipped. Install them with:
    sudo apt-get install --no-install-recommends ${missing[*]}
MSG
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run (e.g. unattended upgrades, or a machine still provisioning) may hold the
# lock; wait for it instead of failing straight away.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

echo "install-system-packages: installing ${missing[*]}"
# The package lists may be absent (fresh container) or stale (versions no longer on the mirror):
# refresh them, since we are about to install anyway. A mirror hiccup gets one more try.
if ! "${as_root[@]}" apt-get "${apt_opts[@]}" update -qq; then
    echo "install-system-packages: apt-get update failed; retrying once in 10 s" >&2
    sleep 10
    "${as_root[@]}" apt-get "${apt_opts[@]}" update -qq
fi
"${as_root[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
if (( ${#still_missing[@]} )); then
    echo "install-system-packages: still missing after apt-get install: ${still_missing[*]}" >&2
    exit 1
fi
echo "install-system-packages: done"
