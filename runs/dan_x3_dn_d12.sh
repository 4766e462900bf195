#!/usr/bin/env bash
# ×3 DN DAN, 12 DABs (48 channels): the bundled 8-DAB DN weights' checkpoint
# (runs/dan_x3_dn_w48, it 5000) deepened with --init-grow (four DABs appended as identities),
# the same step that took BI ×3 from 8 to 12 DABs; it keeps what the DN run learnt instead of
# re-transferring from BI. Started in session 9; resumes automatically from runs/dan_x3_dn_d12.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 --degradation dn \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 3000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 17 --out runs/dan_x3_dn_d12 --resume auto \
  --init-from runs/dan_x3_dn_w48/ckpt_00005000.pt --init-grow
