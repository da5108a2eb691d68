#!/bin/sh
# Installs the Debian packages named as arguments that are not installed yet, and nothing more:
# no recommended packages, no upgrade of a package already there. Installing a package can
# still pull a newer version of one of its dependencies (mariadb-server a newer perl, say);
# apt is asked first what it would do, and the script stops and says so when that would
# upgrade anything, unless PHI_APT_ALLOW_UPGRADES=1. Runs apt through sudo when not root.
set -eu

if [ "$#" -eq 0 ]; then
	echo "usage: $0 PACKAGE..." >&2
	exit 2
fi

missing=""
for package in "$@"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $package"
done
[ -n "$missing" ] || exit 0

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
# Another apt run (an unattended upgrade, a second make) holds dpkg's lock for a while: wait for
# it rather than fail.
options="-y -q --no-install-recommends --no-upgrade -o DPkg::Lock::Timeout=600"

# What apt would do, without doing it. A package missing from stale lists needs an update first.
# shellcheck disable=SC2086  # $missing and $options are word lists on purpose
if ! plan=$(apt-get -s install $options $missing 2>&1); then
	$sudo apt-get update -q -o DPkg::Lock::Timeout=600
	plan=$(apt-get -s install $options $missing 2>&1) || {
		echo "$plan" >&2
		exit 1
	}
fi

# apt's simulation writes an upgrade as "Inst NAME [INSTALLED VERSION] (NEW VERSION ...)".
upgrades=$(echo "$plan" | sed -n 's/^Inst \([^ ]*\) \[\([^]]*\)\] (\([^ ]*\).*/  \1 \2 -> \3/p')
if [ -n "$upgrades" ] && [ "${PHI_APT_ALLOW_UPGRADES:-0}" != 1 ]; then
	echo "Installing$missing would upgrade packages already on this machine:" >&2
	echo "$upgrades" >&2
	echo "Nothing was installed. Upgrade them yourself (apt-get upgrade), install$missing by hand," >&2
	echo "or run again with PHI_APT_ALLOW_UPGRADES=1 to let apt upgrade them." >&2
	exit 1
fi

echo "Installing$missing (apt, no recommended packages, no upgrades)"
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install $options $missing
