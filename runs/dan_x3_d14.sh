#!/usr/bin/env bash
# ×3 BI DAN, 14 DABs (48 channels): the bundled 12-DAB ×3 weights' checkpoint
# (runs/dan_x3_d12, it 3000) deepened again with --init-grow, which appends two DABs that start
# as identities, so training starts from the parent's quality. Started in session 9; resumes
# automatically from runs/dan_x3_d14.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=14 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 3000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 15 --out runs/dan_x3_d14 --resume auto \
  --init-from runs/dan_x3_d12/ckpt_00003000.pt --init-grow
