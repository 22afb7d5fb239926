#!/usr/bin/env python3
"""Draws Telltale's icons (a telltale lamp: an amber rounded square with a
green lamp in it) as RGBA PNGs, using only the standard library.

Run from anywhere: `python3 icons/make_icons.py`. Writes 32x32.png,
128x128.png and icon.png (512x512) next to this script. Tauri needs RGBA.
"""

import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

AMBER = (0xF5, 0xA6, 0x23)
AMBER_DARK = (0xB8, 0x74, 0x0C)
GREEN = (0x2E, 0xCC, 0x71)
GREEN_LIGHT = (0xB9, 0xF6, 0xCA)
RIM = (0x1E, 0x24, 0x2B)


def png(width, height, rows):
    """Encodes rows of RGBA bytes as a PNG file's bytes."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def coverage(inside, x, y, n=4):
    """Anti-aliased coverage of pixel (x, y) by the shape `inside(px, py)`."""
    hits = 0
    for i in range(n):
        for j in range(n):
            if inside(x + (i + 0.5) / n, y + (j + 0.5) / n):
                hits += 1
    return hits / (n * n)


def rounded_square(size, margin, radius):
    lo, hi = margin, size - margin

    def inside(px, py):
        if not (lo <= px <= hi and lo <= py <= hi):
            return False
        cx = min(max(px, lo + radius), hi - radius)
        cy = min(max(py, lo + radius), hi - radius)
        return (px - cx) ** 2 + (py - cy) ** 2 <= radius**2

    return inside


def circle(cx, cy, r):
    return lambda px, py: (px - cx) ** 2 + (py - cy) ** 2 <= r * r


def over(dst, src, a):
    """Blends colour `src` with opacity `a` over RGBA `dst`."""
    r, g, b, da = dst
    out_a = a + da * (1 - a)
    if out_a == 0:
        return (0, 0, 0, 0)
    mix = lambda s, d: (s * a + d * da * (1 - a)) / out_a
    return (mix(src[0], r), mix(src[1], g), mix(src[2], b), out_a)


def draw(size):
    s = float(size)
    body = rounded_square(s, s * 0.06, s * 0.2)
    body_inner = rounded_square(s, s * 0.11, s * 0.16)
    rim = circle(s / 2, s / 2, s * 0.3)
    lamp = circle(s / 2, s / 2, s * 0.24)
    glint = circle(s * 0.43, s * 0.42, s * 0.07)
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            px = (0.0, 0.0, 0.0, 0.0)
            for shape, colour in (
                (body, AMBER_DARK),
                (body_inner, AMBER),
                (rim, RIM),
                (lamp, GREEN),
                (glint, GREEN_LIGHT),
            ):
                a = coverage(shape, x, y)
                if a > 0:
                    px = over(px, colour, a)
            r, g, b, a = px
            row += [round(r), round(g), round(b), round(a * 255)]
        rows.append(row)
    return png(size, size, rows)


def main():
    for name, size in (("32x32.png", 32), ("128x128.png", 128), ("icon.png", 512)):
        path = os.path.join(HERE, name)
        with open(path, "wb") as f:
            f.write(draw(size))
        print(f"wrote {path} ({size}x{size} RGBA)")


if __name__ == "__main__":
    main()
