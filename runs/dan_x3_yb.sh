#!/usr/bin/env bash
# ×3 BI DAN, 12 DABs (48 channels): a longer cosine cycle (3,000 its, lr 1e-4, seed 54) from
# runs/dan_x3_ya (it 1500), the same recipe: luma-weighted loss (--loss l1y) and scale
# augmentation with 0.5 among the factors. Does a cycle twice as long add more than the
# 1,500-iteration ones (Set14 +0.003 to +0.008 dB each)?
# Started in session 12; resumes automatically from runs/dan_x3_yb.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6,0.5 --patch 32 --batch 16 \
  --iters 3000 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --loss l1y \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 54 --out runs/dan_x3_yb --resume auto \
  --init-from runs/dan_x3_ya/ckpt_00001500.pt
