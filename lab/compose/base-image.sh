#!/usr/bin/env bash
# Builds, without a container registry, the base image Meetpoint's images start from: Debian
# bookworm (debootstrap from Debian's packages, trimmed as Debian's "slim" images are) with Bun
# from npm — the equivalent of the public oven/bun:<version>-slim. Then:
#   docker build --build-arg BASE_IMAGE=meetpoint/bun:1.4.5-slim -f Dockerfile.connect .
#   MEETPOINT_BASE_IMAGE=meetpoint/bun:1.4.5-slim docker-compose build
# Usage: lab/compose/base-image.sh [--force]   (as root; needs debootstrap, npm and docker)
set -euo pipefail
BUN_VERSION=1.4.5
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${MEETPOINT_BASE_IMAGE:-meetpoint/bun:$BUN_VERSION-slim}

if [ "${1:-}" != "--force" ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG is already built (--force builds it again)"
  exit 0
fi
case "$(dpkg --print-architecture)" in
  amd64) bun_package=@oven/bun-linux-x64 ;;
  arm64) bun_package=@oven/bun-linux-aarch64 ;;
  *) echo "no Bun build for $(dpkg --print-architecture)" >&2; exit 1 ;;
esac

work=$(mktemp -d /tmp/meetpoint-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

echo "== Debian $SUITE from $MIRROR"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
# As in Debian's slim images: no documentation, manual pages or translations, now or later.
cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat >"$root/etc/apt/apt.conf.d/slim" <<'EOF'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
rm -rf "$root"/usr/share/{man,info}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# This host's own certificate authorities (say, of a TLS-inspecting proxy in front of the npm
# registry) are trusted in the image too, so that image builds reach the registry as this host does.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi

echo "== Bun $BUN_VERSION from npm ($bun_package)"
(cd "$work" && npm pack --silent "$bun_package@$BUN_VERSION" >/dev/null)
tar -xzf "$work"/oven-bun-linux-*.tgz -C "$work" package/bin/bun
install -m 0755 "$work/package/bin/bun" "$root/usr/local/bin/bun"
ln -s bun "$root/usr/local/bin/bunx"
"$root/usr/local/bin/bun" --version >/dev/null

echo "== docker import $TAG"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'WORKDIR /home/bun/app' \
  --change 'CMD ["/usr/local/bin/bun"]' \
  - "$TAG" >/dev/null
docker image ls "$TAG" --format '{{.Repository}}:{{.Tag}}  {{.Size}}'
