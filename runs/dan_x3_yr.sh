#!/usr/bin/env bash
# ×3 BI DAN, 12 DABs (48 channels): a low-rate polishing cycle (1,500 its, lr 5e-5, seed 60) from
# runs/dan_x3_yp (it 1500, live weights), again with scale augmentation and the luma-weighted loss
# (--loss l1y: L1 of the BT.601 luma error + 0.25 × RGB L1), since the benchmarks score luma.
# A second lr-5e-5 polishing cycle, from yp live (33.834 / 29.802 / 28.888).
# Started in session 13; resumes automatically from runs/dan_x3_yr.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6 --patch 32 --batch 16 \
  --iters 1500 --lr 5e-5 --lr-schedule cosine --warmup 100 --ema 0.999 --loss l1y \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 60 --out runs/dan_x3_yr --resume auto \
  --init-from runs/dan_x3_yp/ckpt_00001500.pt
