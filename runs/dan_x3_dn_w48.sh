#!/usr/bin/env bash
# ×3 DN DAN, 48 channels, transferred from the bundled 48-channel BI ×3 weights' checkpoint
# (runs/dan_x3_w48, it 6000), as runs/dan_x3_dn.sh did from the 32-channel BI run.
# Started in session 5; resumes automatically from runs/dan_x3_dn_w48.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 --degradation dn \
  --set n_feats=48 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 5000 --lr 5e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 7 --out runs/dan_x3_dn_w48 --resume auto \
  --init-from runs/dan_x3_w48/ckpt_00006000.pt
