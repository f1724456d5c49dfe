#!/usr/bin/env bash
# Copy the front-end libraries that `npm ci` put in node_modules/ into the Django static tree.
#
# The pages load these files from our own origin: the Content-Security-Policy allows 'self' only,
# and a district intranet may have no internet at all, so nothing may come from a CDN.
# The vendor/ folder is generated (gitignored); package-lock.json pins what ends up in it.
set -euo pipefail

cd "$(dirname "$0")/.."

src=node_modules
dest=src/jiayi/web/static/vendor

if [[ ! -d "$src" ]]; then
    echo "vendor-static: $src/ is missing; run 'npm ci' (or 'make install') first" >&2
    exit 1
fi

# "<file in node_modules>  <name under vendor/>": the minified builds the templates use, and each
# library's licence, which has to travel with the copy we redistribute.
files=(
    "htmx.org/dist/htmx.min.js              htmx.min.js"
    "htmx.org/LICENSE                       licenses/htmx.LICENSE"
    "@picocss/pico/css/pico.min.css         pico.min.css"
    "@picocss/pico/LICENSE.md               licenses/pico.LICENSE.md"
    "echarts/dist/echarts.min.js            echarts.min.js"
    "echarts/LICENSE                        licenses/echarts.LICENSE"
    "zrender/LICENSE                        licenses/zrender.LICENSE"
    "tslib/LICENSE.txt                      licenses/tslib.LICENSE.txt"
)

# Check everything first so that a changed package layout fails loudly instead of leaving
# a half-updated vendor/ folder behind.
missing=0
for entry in "${files[@]}"; do
    read -r from _ <<<"$entry"
    if [[ ! -f "$src/$from" ]]; then
        echo "vendor-static: $src/$from not found (did a package change its layout?)" >&2
        missing=1
    fi
done
if (( missing )); then
    exit 1
fi

mkdir -p "$dest/licenses"
for entry in "${files[@]}"; do
    read -r from to <<<"$entry"
    install -m 0644 "$src/$from" "$dest/$to"
done

# Record the versions served, so that a page or a bug report can tell which build it got.
node -e '
const fs = require("fs");
const names = ["htmx.org", "@picocss/pico", "echarts"];
const versions = Object.fromEntries(
  names.map((n) => [n, JSON.parse(fs.readFileSync(`node_modules/${n}/package.json`)).version]),
);
fs.writeFileSync(process.argv[1], JSON.stringify(versions, null, 2) + "\n");
' "$dest/versions.json"

echo "vendor-static: copied ${#files[@]} files into $dest/"
