#!/usr/bin/env bash
# ×3 BD DAN, transferred from the BI ×3 run at iteration 5492 (as the DAN paper initialises
# BD/DN from its BI model; docs/training.md). Resumes automatically from runs/dan_x3_bd.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 --degradation bd \
  --set n_feats=32 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 5000 --lr 5e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --seed 0 --out runs/dan_x3_bd --resume auto \
  --init-from runs/dan_x3_it5492_init.pt
