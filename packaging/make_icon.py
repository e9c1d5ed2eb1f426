"""Draw the app icon (a small fully-connected network) -> desktop_nn/resources/icon.png.

    python packaging/make_icon.py

The PNG is committed; the build makes the .ico (Windows) and .icns (macOS) from it."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
SCALE = 4  # drawn large, then reduced: smooth edges without an antialiasing library
LAYERS = [3, 4, 2]
OUT = Path(__file__).resolve().parent.parent / "desktop_nn" / "resources" / "icon.png"


def draw() -> Image.Image:
    s = SIZE * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, s - 1, s - 1], radius=s // 6, fill=(30, 60, 110, 255))
    xs = [s * (0.2 + 0.3 * i) for i in range(len(LAYERS))]
    nodes = [[(x, s * (k + 1) / (n + 1)) for k in range(n)]
             for x, n in zip(xs, LAYERS, strict=True)]
    for left, right in zip(nodes, nodes[1:], strict=False):
        for a in left:
            for b in right:
                d.line([a, b], fill=(150, 190, 240, 255), width=3 * SCALE)
    colors = [(255, 255, 255, 255), (255, 170, 60, 255), (240, 80, 80, 255)]
    r = s * 0.055
    for layer, color in zip(nodes, colors, strict=True):
        for x, y in layer:
            d.ellipse([x - r, y - r, x + r, y + r], fill=color, outline=(20, 30, 50, 255),
                      width=2 * SCALE)
    return img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    draw().save(OUT)
    print(OUT)
