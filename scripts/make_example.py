"""Draw examples/example.png: a small synthetic test card (text, edges, stripes, gradients).

Made here so the repository ships an example without redistributing anyone's photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def main() -> None:
    w, h = 640, 480  # drawn large, then shrunk: the example is a realistic low-res image
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    sky = np.stack([90 + 100 * y, 150 + 60 * y, 230 - 40 * y], axis=-1)
    img = Image.fromarray(sky.astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse((420, 40, 560, 180), fill=(250, 220, 90))
    for i in range(12):  # fine stripes: aliasing and ringing show here
        d.rectangle((40 + 12 * i, 260, 45 + 12 * i, 440), fill=(30, 30, 30))
    d.polygon([(200, 440), (330, 220), (460, 440)], fill=(60, 120, 70), outline=(10, 40, 20))
    d.rectangle((490, 300, 600, 440), fill=(180, 60, 50), outline=(20, 20, 20), width=4)
    font = ImageFont.load_default(size=48)
    d.text((40, 40), "srcli", fill=(255, 255, 255), font=font, stroke_width=3,
           stroke_fill=(20, 20, 60))
    d.text((40, 110), "super-resolution", fill=(20, 20, 60), font=ImageFont.load_default(26))
    small = img.resize((w // 4, h // 4), Image.Resampling.BICUBIC, reducing_gap=None)
    out = Path(__file__).resolve().parents[1] / "examples" / "example.png"
    small.save(out, optimize=True)
    print(f"wrote {out} ({small.width}x{small.height})")


if __name__ == "__main__":
    main()
