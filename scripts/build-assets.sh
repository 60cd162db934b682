#!/usr/bin/env bash
# Build the portal's front-end assets into crm_bridge/portal/static/vendor/ (git-ignored; the
# wheel includes it). Idempotent: safe to run again; it rebuilds only when an input changed.
#
#   govuk-frontend  the Sass is compiled with the settings for a service that is not on GOV.UK
#                   (Arial, not GDS Transport) together with the portal's own styles; its
#                   JavaScript is copied. Its GDS Transport fonts and crown images are GOV.UK's
#                   brand and are deliberately not copied.
#   axe-core        copied for the accessibility tests.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=crm_bridge/portal/static/vendor
SRC=node_modules/govuk-frontend/dist/govuk
STAMP="$OUT/.build-stamp"

inputs_hash() {
    cat package.json package-lock.json crm_bridge/portal/assets/*.scss scripts/build-assets.sh \
        | sha256sum | cut -d' ' -f1
}

want="$(inputs_hash)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -d node_modules/govuk-frontend ] \
    && [ -f "$OUT/portal.css" ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node_modules/.bin/sass --no-source-map --style=compressed --quiet-deps --load-path=node_modules \
    crm_bridge/portal/assets/portal.scss "$tmp/portal.css"
if grep -q "GDS Transport" "$tmp/portal.css"; then
    echo "build-assets: portal.css still names GDS Transport; check portal.scss" >&2
    exit 1
fi
cp "$SRC/govuk-frontend.min.js" "$tmp/"
cp node_modules/axe-core/axe.min.js "$tmp/"
cp node_modules/govuk-frontend/package.json "$tmp/govuk-frontend.package.json"

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$tmp"/* "$OUT/"
echo "$want" > "$STAMP"
echo "portal assets built in $OUT"
