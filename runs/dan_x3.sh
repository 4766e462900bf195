#!/usr/bin/env bash
# Shipped ×3 DAN, initialised from the ×2 run at iteration 3000 (docs/training.md). Resumes automatically from runs/dan_x3 when a checkpoint exists.
# Session 3: cosine horizon cut from 40,000 to 10,000 iterations (resumed at it 5492) to anneal.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=32 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 10000 --lr 5e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 1000 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 0 --out runs/dan_x3 --resume auto \
  --init-from runs/dan_x2_it3000_init.pt
