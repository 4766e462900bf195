#!/usr/bin/env bash
# ×3 BI DAN, 12 DABs (48 channels): the control of runs/dan_x3_y.sh, the same cosine cycle
# (1,500 its, lr 1e-4, seed 51) from runs/dan_x3_sa2 (it 1500) with the plain L1 loss, to
# tell what --loss l1y adds beyond the warm restart.
# Written in session 11, not run yet; resumes automatically from runs/dan_x3_sa3.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6 --patch 32 --batch 16 \
  --iters 1500 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --loss l1 \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 51 --out runs/dan_x3_sa3 --resume auto \
  --init-from runs/dan_x3_sa2/ckpt_00001500.pt
