#!/usr/bin/env bash
# Checks that the library crates can be published and documented
# (`make test` runs it; issue 18):
#  1. every crate that may be published has the metadata crates.io shows
#     (description, license, repository, readme, keywords, categories) and
#     its readme file exists;
#  2. `cargo publish --dry-run --workspace`: packages each publishable crate
#     in dependency order, resolving the unpublished workspace crates from
#     the ones just packaged, and checks the manifests crates.io would get
#     (no upload). `--no-verify` by default: building every packaged crate
#     again costs minutes of CI; PUBLISH_VERIFY=1 builds them too;
#  3. `cargo doc --no-deps --workspace` with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

echo "check-publish: package metadata"
$CARGO metadata --no-deps --format-version 1 | python3 -c '
import json, os, sys
bad = []
publishable = []
for p in json.load(sys.stdin)["packages"]:
    if p.get("publish") == []:
        continue
    name = p["name"]
    publishable.append(name)
    root = os.path.dirname(p["manifest_path"])
    for field in ("description", "license", "repository", "readme"):
        if not p.get(field):
            bad.append(f"{name}: no {field}")
    for field in ("keywords", "categories"):
        if not p.get(field):
            bad.append(f"{name}: no {field}")
    readme, repo = p.get("readme") or "", p.get("repository") or ""
    if readme and not os.path.isfile(os.path.join(root, readme)):
        bad.append(f"{name}: readme {readme} is missing")
    if "example.invalid" in repo:
        bad.append(f"{name}: placeholder repository {repo}")
if bad:
    sys.exit("check-publish: incomplete package metadata:\n  " + "\n  ".join(bad))
print("  publishable:", " ".join(sorted(publishable)))
'

echo "check-publish: cargo publish --dry-run (every publishable crate, in dependency order)"
verify=(--no-verify)
[[ ${PUBLISH_VERIFY:-0} == 1 ]] && verify=()
# --allow-dirty: this checks packaging, not whether the tree is committed.
$CARGO publish --dry-run --workspace --allow-dirty --quiet "${verify[@]}"

echo "check-publish: cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" $CARGO doc --no-deps --workspace --quiet
echo "check-publish: ok"
