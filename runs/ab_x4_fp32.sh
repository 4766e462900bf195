#!/usr/bin/env bash
# bf16/fp32 A/B (issue #21 item 4): 2,000 iterations of the ×4 recipe from the bundled ×4 file,
# same seed and data order in both arms; only --amp differs (this arm: --amp none).
# Compare the arms' validation on ../shared/datasets/val in runs/ab_x4_*/log.jsonl.
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 4 \
  --set n_feats=48 --set n_blocks=12 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --scale-aug 0.9,0.8,0.7,0.6 --patch 32 --batch 16 \
  --iters 2000 --lr 1e-4 --lr-schedule cosine --warmup 100 --ema 0.999 --loss l1y \
  --val ../shared/datasets/val --val-every 500 --ckpt-every 500 --keep 1 --log-every 100 \
  --threads 1 --channels-last --amp none --seed 7 --out runs/ab_x4_fp32 --resume auto \
  --init-from srcli/weights/bundled/dan_x4.safetensors
