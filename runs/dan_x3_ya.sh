#!/usr/bin/env bash
# ×3 BI DAN, 12 DABs (48 channels): twin of runs/dan_x3_y2.sh (1,500 its, lr 1e-4, seed 52) from
# runs/dan_x3_y (it 1500), with the luma-weighted loss (--loss l1y) and a wider scale
# augmentation (0.5 added to the factors): scale-aug gave Set14 its largest gain so far;
# does more of it help?
# Started in session 12; resumes automatically from runs/dan_x3_ya.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6,0.5 --patch 32 --batch 16 \
  --iters 1500 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --loss l1y \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 52 --out runs/dan_x3_ya --resume auto \
  --init-from runs/dan_x3_y/ckpt_00001500.pt
