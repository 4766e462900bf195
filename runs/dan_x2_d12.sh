#!/usr/bin/env bash
# ×2 BI DAN, 12 DABs (48 channels): the bundled 10-DAB ×2 weights' checkpoint
# (runs/dan_x2_d10, it 5000) deepened again with --init-grow, which appends two DABs that start
# as identities, so training starts from the parent's quality. Started in session 8; resumes
# automatically from runs/dan_x2_d12.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 2 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 3000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 14 --out runs/dan_x2_d12 --resume auto \
  --init-from runs/dan_x2_d10/ckpt_00005000.pt --init-grow
