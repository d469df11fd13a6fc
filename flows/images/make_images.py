#!/usr/bin/env python3
"""Makes the specimen documents the quickstart flow sends to POST /v1/users.

The sandbox's seed says "scalar values may be fake; images must look real", and the emulator
rejects an image that is not a decodable JPEG or PNG of at least 200x200 pixels. These two files
are made-up specimens (no real person, every number invented), drawn with Pillow:

- specimen-passport.jpg: a passport data page (photo box, fields, machine-readable zone), JPEG.
- specimen-utility-bill.png: a utility bill as proof of address (letterhead, address block,
  table of charges), PNG.

Regenerate them from the repository root with:

    pip install pillow
    python3 flows/images/make_images.py

The output is deterministic for a given Pillow version and font (DejaVu if installed, else
Pillow's built-in font), so running it again changes nothing unless the drawing code changes.
"""

import os
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
FONT_DIR = "/usr/share/fonts/truetype/dejavu"


def font(size, bold=False, mono=False, serif=False):
    """DejaVu when the system has it, else Pillow's own scalable default font."""
    name = "DejaVuSansMono" if mono else ("DejaVuSerif" if serif else "DejaVuSans")
    if bold:
        name += "-Bold"
    path = os.path.join(FONT_DIR, name + ".ttf")
    if os.path.exists(path):
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def guilloche(draw, width, height, rng, colour):
    """The fine wavy security pattern printed behind a passport page."""
    import math

    for offset in range(0, height + 40, 9):
        phase = rng.random() * 6.28
        points = [(x, offset + 6 * math.sin(x / 23.0 + phase)) for x in range(0, width + 1, 4)]
        draw.line(points, fill=colour, width=1)


def passport(path):
    rng = random.Random(1815)
    width, height = 900, 620
    page = Image.new("RGB", (width, height), (233, 238, 228))
    draw = ImageDraw.Draw(page)
    guilloche(draw, width, height, rng, (214, 224, 210))
    # Header band.
    draw.rectangle([0, 0, width, 70], fill=(28, 52, 96))
    draw.text((30, 18), "UNITED STATES OF AMERICA", font=font(28, bold=True, serif=True), fill=(240, 236, 214))
    draw.text((620, 24), "PASSPORT  ·  SPECIMEN", font=font(20, bold=True), fill=(240, 200, 120))
    # Photo box: a drawn head and shoulders on a light background.
    box = (40, 110, 270, 400)
    draw.rectangle(box, fill=(206, 214, 222), outline=(90, 90, 90), width=2)
    draw.ellipse([105, 150, 205, 270], fill=(222, 190, 160), outline=(120, 90, 70), width=2)
    draw.pieslice([70, 270, 240, 470], 180, 360, fill=(60, 70, 92))
    draw.arc([95, 135, 215, 235], 180, 360, fill=(70, 50, 40), width=14)
    # Fields.
    small, value = font(13), font(21, bold=True)
    x0 = 300
    draw.text((x0, 95), "Type", font=small, fill=(70, 70, 70))
    draw.text((x0, 112), "P", font=value, fill=(20, 20, 20))
    draw.text((x0 + 90, 95), "Code of issuing State", font=small, fill=(70, 70, 70))
    draw.text((x0 + 90, 112), "USA", font=value, fill=(20, 20, 20))
    draw.text((x0 + 330, 95), "Passport No.", font=small, fill=(70, 70, 70))
    draw.text((x0 + 330, 112), "X1234567", font=value, fill=(140, 20, 20))
    columns = [
        [("Surname", "LOVELACE"), ("Given names", "ADA"), ("Nationality", "UNITED STATES OF AMERICA"),
         ("Date of birth", "10 DEC 1990"), ("Place of birth", "ILLINOIS, U.S.A.")],
        [("Sex", "F"), ("Date of issue", "02 MAR 2021"), ("Date of expiration", "01 MAR 2031"),
         ("Authority", "DEPT. OF STATE")],
    ]
    for column, rows in enumerate(columns):
        y = 158
        for label, text in rows:
            draw.text((x0 + column * 320, y), label, font=small, fill=(70, 70, 70))
            draw.text((x0 + column * 320, y + 16), text, font=font(18, bold=True), fill=(20, 20, 20))
            y += 46
    # Signature.
    sig = [(60 + i * 6, 452 - 10 * ((i * 37) % 7) / 7) for i in range(33)]
    draw.line(sig, fill=(30, 40, 120), width=2)
    draw.line([(40, 465), (270, 465)], fill=(80, 80, 80), width=1)
    draw.text((40, 470), "Signature of bearer", font=small, fill=(70, 70, 70))
    draw.text((300, 400), "SPECIMEN - NOT A TRAVEL DOCUMENT", font=font(22, bold=True), fill=(180, 40, 40))
    # Machine-readable zone.
    draw.rectangle([0, 500, width, height], fill=(246, 246, 240))
    mrz = font(27, mono=True)
    draw.text((30, 515), "P<USALOVELACE<<ADA<<<<<<<<<<<<<<<<<<<<<<<<<<", font=mrz, fill=(10, 10, 10))
    draw.text((30, 560), "X1234567<4USA9012106F3103015<<<<<<<<<<<<<<04", font=mrz, fill=(10, 10, 10))
    # A little grain, so it compresses like a scan rather than a drawing.
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    page = Image.blend(page, noise, 0.05).filter(ImageFilter.GaussianBlur(0.5))
    page.save(path, "JPEG", quality=62, optimize=True)


def utility_bill(path):
    width, height = 800, 1000
    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    # Letterhead.
    draw.rectangle([0, 0, width, 110], fill=(0, 102, 86))
    draw.ellipse([30, 22, 96, 88], fill=(255, 200, 60))
    draw.text((115, 24), "Springfield Power & Water", font=font(32, bold=True), fill=(255, 255, 255))
    draw.text((115, 68), "PO Box 4400 · Springfield, IL 62701 · (217) 555-0144", font=font(16), fill=(220, 240, 235))
    draw.text((520, 130), "STATEMENT", font=font(26, bold=True), fill=(0, 102, 86))
    draw.text((520, 168), "Account  4418-2093-77", font=font(16), fill=(40, 40, 40))
    draw.text((520, 190), "Statement date  05 NOV 2026", font=font(16), fill=(40, 40, 40))
    draw.text((520, 212), "Due date  28 NOV 2026", font=font(16), fill=(40, 40, 40))
    # Address block.
    draw.text((50, 140), "SERVICE ADDRESS AND BILL TO", font=font(13, bold=True), fill=(110, 110, 110))
    for i, line in enumerate(["Ada Lovelace", "1 Main St", "Springfield, IL 62701", "United States"]):
        draw.text((50, 162 + i * 24), line, font=font(19), fill=(20, 20, 20))
    draw.rectangle([50, 290, width - 50, 292], fill=(0, 102, 86))
    # Charges.
    draw.text((50, 310), "Charges for 01 OCT 2026 - 31 OCT 2026", font=font(20, bold=True), fill=(20, 20, 20))
    header = ["Description", "Usage", "Rate", "Amount"]
    columns = [50, 390, 520, 650]
    draw.rectangle([50, 350, width - 50, 380], fill=(230, 242, 239))
    for x, text in zip(columns, header):
        draw.text((x + 8, 356), text, font=font(16, bold=True), fill=(20, 20, 20))
    charges = [
        ("Electricity, residential", "412 kWh", "$0.142", "$58.50"),
        ("Delivery charge", "412 kWh", "$0.051", "$21.01"),
        ("Water", "3,900 gal", "$0.006", "$23.40"),
        ("Sewer", "3,900 gal", "$0.004", "$15.60"),
        ("Customer charge", "1 month", "$9.75", "$9.75"),
        ("State utility tax", "", "5.0%", "$6.41"),
    ]
    y = 392
    for row in charges:
        for x, text in zip(columns, row):
            draw.text((x + 8, y), text, font=font(16), fill=(30, 30, 30))
        y += 34
        draw.line([(50, y - 6), (width - 50, y - 6)], fill=(215, 215, 215), width=1)
    draw.text((columns[2] + 8, y + 10), "Total due", font=font(20, bold=True), fill=(20, 20, 20))
    draw.text((columns[3] + 8, y + 10), "$134.67", font=font(20, bold=True), fill=(0, 102, 86))
    # A usage chart, as real bills have.
    draw.text((50, y + 70), "Your electricity use, last 12 months (kWh)", font=font(15, bold=True), fill=(60, 60, 60))
    usage = [380, 402, 455, 510, 590, 640, 702, 688, 560, 470, 430, 412]
    base = y + 240
    for i, amount in enumerate(usage):
        left = 60 + i * 56
        draw.rectangle([left, base - amount // 5, left + 36, base], fill=(0, 140, 118) if i == 11 else (150, 200, 190))
        draw.text((left + 2, base + 6), "JFMAMJJASOND"[(i + 10) % 12], font=font(13), fill=(90, 90, 90))
    # Remittance stub.
    draw.line([(0, 880), (width, 880)], fill=(120, 120, 120), width=1)
    draw.text((50, 895), "Please return this portion with your payment.  Account 4418-2093-77  ·  Amount due $134.67",
              font=font(14), fill=(60, 60, 60))
    draw.text((50, 930), "SPECIMEN DOCUMENT - NOT A REAL BILL", font=font(18, bold=True), fill=(190, 40, 40))
    # A 64-colour palette keeps the anti-aliased text and the file small.
    page.quantize(colors=128).save(path, "PNG", optimize=True)


if __name__ == "__main__":
    passport(os.path.join(HERE, "specimen-passport.jpg"))
    utility_bill(os.path.join(HERE, "specimen-utility-bill.png"))
    for name in ("specimen-passport.jpg", "specimen-utility-bill.png"):
        print(name, os.path.getsize(os.path.join(HERE, name)), "bytes")
