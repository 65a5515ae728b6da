#!/bin/sh
# A customer's own VPN concentrator in the Compose lab (the customer who allows no vendor hardware:
# the vendor's jump workspace dials in like any service provider would). An OpenVPN server in TLS
# mode with a small PKI of its own made here at start (EC P-256, two days); it pushes the route to
# the machine LAN behind it. The profile the customer hands the vendor is written to
# /run/pki/vendor.ovpn (ca, certificate and key inline), as a customer's admin would export it.
# Usage: concentrator.sh <public address> <machine LAN, network netmask> <client pool, network netmask>
set -eu
public=$1
lan=$2
pool=$3
umask 077
mkdir -p /run/pki
cd /run/pki
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
key ca
openssl req -x509 -key ca.key -out ca.crt -days 2 -subj "/CN=Customer VPN CA"
for who in server vendor; do
  key "$who"
  openssl req -new -key "$who.key" -out "$who.csr" -subj "/CN=$who.vpn.customer"
  usage=clientAuth
  if [ "$who" = server ]; then usage=serverAuth; fi
  printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$usage" >"$who.ext"
  openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$who.ext" -out "$who.crt" 2>/dev/null
done
{
  printf 'client\ndev tun\nproto udp\nremote %s 1194\nnobind\n' "$public"
  printf 'remote-cert-tls server\nverify-x509-name server.vpn.customer name\n'
  printf '<ca>\n%s\n</ca>\n<cert>\n%s\n</cert>\n<key>\n%s\n</key>\n' \
    "$(cat ca.crt)" "$(cat vendor.crt)" "$(cat vendor.key)"
} >vendor.ovpn.part
mv vendor.ovpn.part vendor.ovpn
# shellcheck disable=SC2086
exec openvpn --server $pool --topology subnet --dev tun --proto udp --port 1194 \
  --ca ca.crt --cert server.crt --key server.key --dh none \
  --push "route $lan" --keepalive 2 10 --verb 3
