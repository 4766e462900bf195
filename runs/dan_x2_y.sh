#!/usr/bin/env bash
# ×2 BI DAN, 12 DABs (48 channels): a cosine cycle (1,500 its, lr 1e-4, seed 62) from the
# bundled ×2 checkpoint (runs/dan_x2_sa, it 2000; the bundled file is its EMA, --init-from
# takes the live weights) with scale augmentation and the luma-weighted loss (--loss l1y),
# the recipe that took ×3 from 29.776 to 29.798 on Set14 in five cycles (dan_x3_y .. y6).
# Started in session 13; resumes automatically from runs/dan_x2_y.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 2 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6 --patch 32 --batch 16 \
  --iters 1500 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --loss l1y \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 62 --out runs/dan_x2_y --resume auto \
  --init-from runs/dan_x2_sa/ckpt_00002000.pt
