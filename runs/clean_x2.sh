#!/usr/bin/env bash
# Clean-pool ×2 BI DAN (issue #25): the shipped 12-DAB/48-channel DAN trained from scratch on
# the 470-image pool without BSDS200/302003 (the source of Set5 "woman"), chosen on
# ../shared/datasets/val only. One cosine cycle with the recipe the earlier lineage converged
# on (scale augmentation, l1y loss, EMA), in bf16 autocast on the CPU's AMX units.
# Resumes automatically: re-run this script after an interruption.
#   nohup nice -n 19 bash runs/clean_x2.sh >> runs/clean_x2.out 2>&1 &
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 2 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6 --patch 32 --batch 16 \
  --iters 16000 --lr 2e-4 --lr-schedule cosine --warmup 300 --ema 0.999 --loss l1y \
  --val ../shared/datasets/val --val-every 2000 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --amp bf16 --seed 125 --out runs/clean_x2 --resume auto
