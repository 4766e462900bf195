#!/usr/bin/env bash
# ×3 BD DAN, 12 DABs (48 channels): one more cosine cycle (1,500 its, lr 2e-4) from the bundled
# ×3 BD checkpoint (runs/dan_x3_bd_d12, it 3000), with VDSR-style scale augmentation
# (--scale-aug 0.9,0.8,0.7,0.6), as runs/dan_x3_sa.sh did for ×3 BI.
# Written in session 11 for 2,000 its, cut to 1,500 and run in session 13; resumes
# automatically from runs/dan_x3_bd_sa.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 --degradation bd \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6 --patch 32 --batch 16 \
  --iters 1500 --lr 2e-4 --lr-schedule cosine --warmup 100 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 41 --out runs/dan_x3_bd_sa --resume auto \
  --init-from runs/dan_x3_bd_d12/ckpt_00003000.pt
