#!/usr/bin/env python3
"""Keep the crates of custos layered: each crate may depend (outside its tests) only on
the crates below it. The order, from the bottom:

    custos-core  <  custos-files  <  custos-store  <  custos-app  <  custos-web  <  custos

and the web server and the CLI reach storage only through the use cases: they must not
depend on custos-store except as a dev-dependency. Run from the repository root; exits
non-zero naming every edge that breaks the rule."""
import json
import subprocess
import sys

ALLOWED = {
    "custos-core": set(),
    "custos-files": {"custos-core"},
    "custos-store": {"custos-core", "custos-files"},
    "custos-app": {"custos-core", "custos-files", "custos-store"},
    "custos-web": {"custos-core", "custos-files", "custos-app"},
    "custos": {"custos-core", "custos-files", "custos-app", "custos-web"},
}

meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
bad = []
for pkg in meta["packages"]:
    name = pkg["name"]
    if name not in ALLOWED:
        bad.append(f"{name}: a workspace crate with no place in the layer order")
        continue
    for dep in pkg["dependencies"]:
        if not dep["name"].startswith("custos") or dep.get("kind") == "dev":
            continue
        if dep["name"] not in ALLOWED[name]:
            bad.append(f"{name} -> {dep['name']} ({dep.get('kind') or 'normal'} dependency)")
if bad:
    print("crate layering broken:")
    for b in bad:
        print("  " + b)
    sys.exit(1)
print("crate layering ok: " + " < ".join(ALLOWED))
