#!/usr/bin/env bash
# ×3 BI DAN, 12 DABs (48 channels): one more cosine cycle (2,000 its, lr 2e-4) from the bundled
# ×3 checkpoint (runs/dan_x3_d12, it 3000), without scale augmentation: the control of runs/dan_x3_sa.sh (same flags
# otherwise), so a gain there is not just this warm restart's.
# Started in session 10; resumes automatically from runs/dan_x3_c3.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 2000 --lr 2e-4 --lr-schedule cosine --warmup 100 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 250 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 21 --out runs/dan_x3_c3 --resume auto \
  --init-from runs/dan_x3_d12/ckpt_00003000.pt
