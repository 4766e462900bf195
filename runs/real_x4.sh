#!/usr/bin/env bash
# Real-photo ×4 DAN (issue #24): the bundled ×4 BI weights transferred to the `real`
# degradation (blur, bicubic, noise, JPEG; ranges in srcli/imaging/degrade.py), trained on the
# clean 470-image pool and validated on ../shared/datasets/val with the same degradation
# (fixed per image). Same 12-DAB/48-channel DAN as the bundled BI file, bf16 autocast.
# Resumes automatically: re-run this script after an interruption.
#   nohup nice -n 19 bash runs/real_x4.sh >> runs/real_x4.out 2>&1 &
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 4 --degradation real \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 8000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 --loss l1y \
  --val ../shared/datasets/val --val-every 1000 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --amp bf16 --seed 241 --out runs/real_x4 --resume auto \
  --init-from srcli/weights/bundled/dan_x4.safetensors
