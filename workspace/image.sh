#!/usr/bin/env bash
# Builds the jump workspace image (workspace/Dockerfile) without a container registry: from the
# offline Bun base image (lab/compose/base-image.sh, built first if missing) and Debian's packages.
# The supervisor is bundled with Bun into one file. The tag carries a hash of what goes in, so an
# unchanged workspace is not built again. Prints the tag, the size and the build time.
# Usage: workspace/image.sh [--force]   (as root; needs debootstrap, npm, bun and docker)
#   MEETPOINT_WORKSPACE_IMAGE_FILE=<file>  also writes the tag there (for tests and CI)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BUN_VERSION=1.4.5
BASE=${MEETPOINT_BASE_IMAGE:-meetpoint/bun:$BUN_VERSION-slim}
started=$SECONDS

MEETPOINT_BASE_IMAGE=$BASE bash "$repo/lab/compose/base-image.sh" >/dev/null

work=$(mktemp -d /tmp/meetpoint-workspace.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$here/Dockerfile" "$work/Dockerfile"
(cd "$repo" && bun build workspace/src/supervisor.ts --target bun --outfile "$work/supervisor.js" >/dev/null)
content=$( (cat "$work/Dockerfile" "$work/supervisor.js"; docker image inspect -f '{{.Id}}' "$BASE") | sha256sum | cut -c1-12)
TAG=meetpoint/workspace:$content
[ -n "${MEETPOINT_WORKSPACE_IMAGE_FILE:-}" ] && echo "$TAG" >"$MEETPOINT_WORKSPACE_IMAGE_FILE"

if [ "${1:-}" != "--force" ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG is already built (--force builds it again)"
  exit 0
fi
echo "== docker build $TAG (from $BASE)"
docker build -q --build-arg "BASE_IMAGE=$BASE" -t "$TAG" "$work" >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; exit 1; }
docker tag "$TAG" meetpoint/workspace:latest
echo "$TAG  $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')  built in $((SECONDS - started)) s"
