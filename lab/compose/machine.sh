#!/bin/sh
# A machine on a site LAN of the Compose lab: its address on the site subnet (the same at every
# site; Docker's own address on this network stays for Docker's bookkeeping), no way off the LAN,
# the device web UI and Modbus/TCP (lab simulator) and SSH (dropbear).
# Usage: machine.sh <docker subnet of this LAN> <site address/prefix> <name> [<route back>]
# (route back: `<network/prefix> via <router>`, for a LAN whose router does not masquerade — a
# customer's VPN concentrator)
set -eu
lan=$(ip -o -4 addr show to "$1" | cut -d' ' -f2)
ip addr add "$2" dev "$lan"
ip route del default 2>/dev/null || true
# shellcheck disable=SC2086
if [ -n "${4:-}" ]; then ip route add $4; fi
address=${2%/*}
dropbearkey -t ed25519 -f /tmp/host.key >/dev/null 2>&1
dropbear -E -s -p "$address:22" -r /tmp/host.key
exec bun lab/src/simulators/machine.ts "$address" "$3"
