#!/bin/sh
# The lab's time server (chrony), serving its own clock and never setting it (-x).
set -eu
printf 'local stratum 8\nallow 198.18.0.0/15\nport 123\ncmdport 0\n' >/tmp/chrony.conf
exec chronyd -d -x -u root -f /tmp/chrony.conf
