#!/usr/bin/env bash
# One command that checks srcli on an NVIDIA GPU and keeps every figure. Each step has its
# own time limit; together they are 8 minutes at most (30+120+90+60+45*4 s).
#
#   scripts/gpu_check.sh                 # results in $OUT if set, else ./gpu_check_out/
#   scripts/gpu_check.sh --out DIR       # results in DIR
#   scripts/gpu_check.sh --allow-no-gpu  # no GPU: say so, write the note, exit 0
#
# Steps (logs and JSON/Markdown per step in the output folder, summary.md at the end):
#   env      nvidia-smi, torch/CUDA/cuDNN/NCCL versions
#   pytest   pytest -m gpu (the CUDA tests in tests/)
#   quality  every bundled weight file on Set5/Set14 in fp32/fp16/bf16, fp16/bf16 - fp32
#            output difference, DAN+ x4 on the GPU          (scripts/gpu_check.py quality)
#   speed    1000² -> x4: throughput MP/s, peak GPU memory, tiled vs whole      (... speed)
#   oom      tiny memory cap: the engine halves the tile and still finishes     (... oom)
#   train    training steps/s, fp32 vs bf16 autocast                            (... train)
#   ddp      torchrun --nproc_per_node 1: NCCL process group + DDP steps        (... ddp)
#   smoke    torchrun --nproc_per_node 1 -m srcli train --device cuda --amp bf16 (30 iters)
# Exit status: 0 all steps passed; 1 a step failed (see summary.md); 2 usage; 3 no GPU.
set -u

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

out="${OUT:-./gpu_check_out}"
allow_no_gpu=0
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --out) [ $# -ge 2 ] || { echo "gpu_check: --out needs a folder" >&2; exit 2; }
               out="$2"; shift 2 ;;
        --out=*) out="${1#--out=}"; shift ;;
        --allow-no-gpu) allow_no_gpu=1; shift ;;
        *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || { echo "gpu_check: empty output folder" >&2; exit 2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out" || { echo "gpu_check: cannot create $out" >&2; exit 2; }
out="$(cd "$out" && pwd)"
cd "$repo" || exit 2
py="${PYTHON:-python}"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

gpu_info="$("$py" - <<'EOF' 2>&1
import torch
cuda = torch.version.cuda or "none (CPU-only build)"
if torch.cuda.is_available():
    print(f"ok {torch.cuda.get_device_name(0)}; torch {torch.__version__}, CUDA {cuda}")
else:
    print(f"none: torch {torch.__version__}, CUDA {cuda}, no CUDA device visible")
EOF
)"
if [ "${gpu_info%% *}" != "ok" ]; then
    msg="gpu_check: no NVIDIA GPU usable by PyTorch (${gpu_info#none: }); nothing was checked"
    echo "$msg" >&2
    echo "$msg" > "$out/NO_GPU.txt"
    [ "$allow_no_gpu" = 1 ] && exit 0
    exit 3
fi
echo "gpu_check: ${gpu_info#ok } -> $out" >&2

summary="$out/summary.md"
{ echo "# srcli GPU check"; echo; echo "${gpu_info#ok }, $(date -u +%Y-%m-%dT%H:%MZ)"; echo
  echo "| step | status | seconds | log |"; echo "|---|---|---:|---|"; } > "$summary"
failed=0

# run NAME LIMIT_S CMD...: time-limited, logged, a line in the summary; never stops the check.
run() {
    local name="$1" limit="$2"; shift 2
    local start=$SECONDS status
    echo "== $name" >&2
    timeout --kill-after=10 "$limit" "$@" > "$out/$name.log" 2>&1
    local rc=$?
    case $rc in
        0) status=ok ;;
        124|137) status="timed out (${limit} s)"; failed=1 ;;
        *) status="failed (exit $rc)"; failed=1 ;;
    esac
    echo "| $name | $status | $((SECONDS - start)) | $name.log |" >> "$summary"
    echo "   $status, $((SECONDS - start)) s" >&2
}

run env 30 bash -c "nvidia-smi; $py -c 'import torch; print(torch.__version__, \
torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.nccl.version())'"
run pytest 120 "$py" -m pytest -m gpu -q -p no:cacheprovider -rs tests \
    --junitxml="$out/pytest_gpu.xml"
run quality 90 "$py" scripts/gpu_check.py quality --out "$out"
run speed 60 "$py" scripts/gpu_check.py speed --out "$out"
run oom 45 "$py" scripts/gpu_check.py oom --out "$out"
run train 45 "$py" scripts/gpu_check.py train --out "$out"
run ddp 45 "$py" -m torch.distributed.run --standalone --nproc_per_node 1 \
    scripts/gpu_check.py ddp --out "$out"
train_data="$repo/../shared/datasets/train/T91"
[ -d "$train_data" ] || train_data="$repo/tests/data/train/T91"
run smoke 45 "$py" -m torch.distributed.run --standalone --nproc_per_node 1 -m srcli train \
    --data "$train_data" --scale 2 --iters 30 --batch 16 --patch 48 --val '' \
    --log-every 10 --ckpt-every 30 --device cuda --amp bf16 --out "$out/smoke_run" --overwrite

{ echo; for part in quality speed oom train ddp; do
      [ -f "$out/$part.md" ] && { echo "## $part"; echo; cat "$out/$part.md"; echo; }
  done; } >> "$summary"
echo "gpu_check: $( [ $failed = 0 ] && echo 'all steps passed' || echo 'some steps FAILED'); \
see $summary" >&2
exit $failed
