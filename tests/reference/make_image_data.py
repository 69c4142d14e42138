#!/usr/bin/env python3
"""Tiny PNG files for tests/test-image.c and tests/test-params.c.

How to run (on a development machine, never in CI):

    python3 tests/reference/make_image_data.py tests/data/image

Needs Pillow.  Pillow writes the palette, 1-bit, 16-bit grey files and the
files with a `parameters` text chunk (the way the Stable Diffusion web UIs
write them, through PngInfo.add_text), and PIL's Lanczos resize of a small
image as the reference for df_image_resize(); a few lines of zlib below write what
Pillow cannot: 16-bit RGBA, an Adam7-interlaced image and a grey image with a
tRNS colour key.  The pixel values follow the formulas the C tests repeat.
"""

import os
import struct
import sys
import zlib

from PIL import Image, PngImagePlugin


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width, height, bit_depth, colour_type, raw, interlace=0, extra=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def rows(pixels, width, height, bpp):
    """Filter type 0 before every row; pixels(x, y) gives the bytes."""
    out = bytearray()
    for y in range(height):
        out.append(0)
        for x in range(width):
            out += pixels(x, y)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
         (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def adam7(pixels, width, height):
    out = bytearray()
    for x0, y0, dx, dy in ADAM7:
        xs = range(x0, width, dx)
        ys = range(y0, height, dy)
        if len(xs) == 0 or len(ys) == 0:
            continue
        for y in ys:
            out.append(0)
            for x in xs:
                out += pixels(x, y)
    return bytes(out)


def rgba16(x, y):
    r = x * 13107 + y * 1000 + 3
    g = 65535 - x * 9000 - y * 77
    b = (x * y * 4001) % 65536
    a = 65535 - y * 20000
    return struct.pack(">HHHH", r, g, b, a)


def interlaced_rgb(x, y):
    return bytes([x * 30, y * 50, (x * y * 7) % 256])


def grey_key(x, y):
    return bytes([(x * 40 + y * 10) % 256])


PROMPT_LATIN1 = ("a café by the sea, golden hour,\n"
                 "highly detailed")
PARAMS_LATIN1 = (PROMPT_LATIN1 + "\n"
                 "Negative prompt: blurry, lowres\n"
                 "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234, "
                 "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
                 "Denoising strength: 0.6, "
                 "Lora hashes: \"detail: abc123, style: def456\", Version: v1.6.0")
PARAMS_UNICODE = ("富士山と桜, watercolour\n"
                  "Steps: 30, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512")
PARAMS_ZTXT = ("a lighthouse\n"
               "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6, "
               "Seed: 4294967295, Size: 640x448")


def chunk_types(path):
    data = open(path, "rb").read()
    pos, kinds = 8, []
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        kinds.append(data[pos + 4:pos + 8].decode())
        pos += 12 + n
    return kinds


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def put(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    put("rgba16-5x3.png", png(5, 3, 16, 6, rows(rgba16, 5, 3, 8)))
    put("rgb-adam7-7x5.png", png(7, 5, 8, 2, adam7(interlaced_rgb, 7, 5), interlace=1))
    # grey 8-bit with tRNS colour key 100: pixels of value 100 are transparent
    put("grey-trns-6x4.png", png(6, 4, 8, 0, rows(grey_key, 6, 4, 1),
                                 extra=chunk(b"tRNS", struct.pack(">H", 100))))

    im = Image.new("I;16", (5, 3))
    im.putdata([x * 12000 + y * 3001 for y in range(3) for x in range(5)])
    im.save(os.path.join(out, "grey16-5x3.png"))

    im = Image.new("P", (7, 5))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    im.putdata([(x + 2 * y) % 4 for y in range(5) for x in range(7)])
    im.save(os.path.join(out, "palette2-trns-7x5.png"), bits=2,
            transparency=bytes([255, 255, 0, 128]))

    im = Image.new("1", (9, 3))
    im.putdata([255 if (x + y) % 2 else 0 for y in range(3) for x in range(9)])
    im.save(os.path.join(out, "grey1-9x3.png"))

    for name, text, zip_ in (("params-pil-text.png", PARAMS_LATIN1, False),
                             ("params-pil-itxt.png", PARAMS_UNICODE, False),
                             ("params-pil-ztxt.png", PARAMS_ZTXT, True)):
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", text, zip=zip_)
        Image.new("RGB", (4, 4), (200, 100, 50)).save(os.path.join(out, name), pnginfo=info)

    # Lanczos resampling as diffusers' image processor does it (PIL LANCZOS)
    im = Image.new("RGB", (11, 7))
    im.putdata([((x * 23 + y * 5) % 256, (x * y * 17) % 256, 255 if (x + y) % 3 == 0 else 40)
                for y in range(7) for x in range(11)])
    im.save(os.path.join(out, "resize-src-11x7.png"))
    im.resize((5, 9), Image.LANCZOS).save(os.path.join(out, "resize-pil-5x9.png"))
    for w, h in ((23, 4), (5, 3), (17, 12)):
        im.resize((w, h), Image.LANCZOS).save(os.path.join(out, f"resize-pil-{w}x{h}.png"))

    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        print(name, os.path.getsize(path), [k for k in chunk_types(path) if k != "IDAT"])
        # Pillow must read back what was written
        Image.open(path).load()
    assert "tEXt" in chunk_types(os.path.join(out, "params-pil-text.png"))
    assert "iTXt" in chunk_types(os.path.join(out, "params-pil-itxt.png"))
    assert "zTXt" in chunk_types(os.path.join(out, "params-pil-ztxt.png"))


main()
