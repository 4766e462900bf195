#!/usr/bin/env bash
# Check what users get, not the editable checkout CI tests: build the sdist and the wheel,
# install the wheel (not editable) in a fresh venv, run srcli from outside the repository with
# no network, and check the wheel holds every bundled weight the manifest names, byte-exact.
# Prints "check_dist: FAIL: ..." and exits 1 on a problem. 16-54 s on 2 busy cores.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/srcli-dist.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "check_dist: FAIL: $*" >&2; exit 1; }
step() { echo "check_dist: $*"; }

step "building sdist and wheel"
"$PY" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 \
    || { tail -n 20 "$WORK/build.log" >&2; fail "python -m build failed (log above)"; }
# Deprecation warnings (e.g. the old `license = { text = ... }` table) become errors later.
if grep -i "deprecat" "$WORK/build.log" | grep -vE "^(copying|adding|hard linking) " >&2; then
    fail "the build printed a deprecation warning (above)"
fi
wheel=$(echo "$WORK"/dist/*.whl)
sdist=$(echo "$WORK"/dist/*.tar.gz)
[[ -f $wheel && -f $sdist ]] || fail "python -m build did not make both a wheel and an sdist"

step "checking the artefacts' contents ($(basename "$wheel"), $(basename "$sdist"))"
"$PY" - "$wheel" "$sdist" "$REPO/srcli/weights/manifest.json" <<'EOF' || exit 1
import hashlib, json, sys, tarfile, zipfile

wheel, sdist, manifest_path = sys.argv[1:]
problems = []
z = zipfile.ZipFile(wheel)
names = set(z.namelist())
repo_manifest = open(manifest_path, "rb").read()
if "srcli/weights/manifest.json" not in names:
    problems.append("srcli/weights/manifest.json is not in the wheel")
elif z.read("srcli/weights/manifest.json") != repo_manifest:
    problems.append("the wheel's manifest.json differs from srcli/weights/manifest.json")
for entry in json.loads(repo_manifest)["weights"]:
    if not entry.get("bundled"):
        continue
    member = f"srcli/weights/{entry['bundled']}"
    if member not in names:
        problems.append(f"bundled weight {member} is not in the wheel (package-data?)")
    elif hashlib.sha256(z.read(member)).hexdigest() != entry["sha256"]:
        problems.append(f"bundled weight {member} in the wheel does not match its sha256")
dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
meta = z.read(f"{dist_info}/METADATA").decode()
if "License-Expression: MIT" not in meta.splitlines():
    problems.append("wheel METADATA has no 'License-Expression: MIT'")
if f"{dist_info}/licenses/LICENSE" not in names:
    problems.append("LICENSE is not under dist-info/licenses/ in the wheel")
members = tarfile.open(sdist).getnames()
top = members[0].split("/")[0]
for need in ("tests/conftest.py", "tests/hub_server.py", "completions/srcli.bash", "LICENSE",
             "CHANGELOG.md", "weights_manifest.json", "examples/example.png"):
    if f"{top}/{need}" not in members:
        problems.append(f"the sdist lacks {need}")
for m in members:
    if m.startswith(f"{top}/runs/") or "__pycache__" in m:
        problems.append(f"the sdist ships {m}")
        break
for p in problems:
    print(f"check_dist: FAIL: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

step "installing the wheel in a fresh venv (torch and the other dependencies reused)"
# --system-site-packages reuses the installed torch instead of downloading it; --no-index keeps
# pip offline, so a dependency missing here fails rather than being fetched.
"$PY" -m venv --system-site-packages "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --no-index --no-deps --force-reinstall \
    --disable-pip-version-check "$wheel" >"$WORK/pip.log" 2>&1 \
    || { cat "$WORK/pip.log" >&2; fail "pip could not install $(basename "$wheel")"; }

mkdir -p "$WORK/run" "$WORK/cache"
cd "$WORK/run"  # outside the repository: nothing can come from the checkout
export HF_HUB_OFFLINE=1 HF_HOME="$WORK/cache/hf" XDG_CACHE_HOME="$WORK/cache" OMP_NUM_THREADS=1
unset SRCLI_WEIGHTS_MANIFEST SRCLI_CACHE SRCLI_DATA PYTHONPATH
srcli=$WORK/venv/bin/srcli
where=$("$WORK/venv/bin/python" -c "import srcli; print(srcli.__file__)")
[[ $where == "$WORK/venv/"* ]] || fail "srcli was imported from $where, not the installed wheel"
run() { "$srcli" "$@" >"$WORK/out.log" 2>&1 || { cat "$WORK/out.log" >&2; fail "srcli $*"; }; }
step "srcli --version: $("$srcli" --version)"
run models verify
step "srcli models verify: ok"
run models list
step "srcli models list: ok"
run upscale "$REPO/examples/example.png" --scale 2 -o "$WORK/run/example_x2.png"
size=$("$WORK/venv/bin/python" -c \
    "from PIL import Image; print(*Image.open('example_x2.png').size)")
want=$("$WORK/venv/bin/python" -c \
    "from PIL import Image; print(*(2 * s for s in Image.open('$REPO/examples/example.png').size))")
[[ $size == "$want" ]] || fail "srcli upscale wrote a ${size/ /x} image, expected ${want/ /x}"
step "srcli upscale examples/example.png --scale 2: ${size/ /x} ok"
step "OK"
