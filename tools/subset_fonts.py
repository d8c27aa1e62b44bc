"""Make the fonts the PDF documents embed (`make fonts`): Noto Sans (Latin, Greek, Cyrillic), a few
symbols of Noto Sans Math (the minus sign) and Noto Sans CJK JP, taken from Debian's font packages and
cut down to what invoices print.

Run at development time only; the output is committed under layers/billing/billing/fonts/ and
nothing is downloaded at build or run time. Steps:

1. ``apt-get download fonts-noto-core fonts-noto-cjk`` (Debian's own client; or give
   ``--from DIR`` holding the two ``.deb`` files), each checked against the SHA-256 below so the
   output is reproducible;
2. extract ``NotoSans-{Regular,Bold}.ttf``, ``NotoSansMath-Regular.ttf`` (TrueType outlines) and the JP face of
   ``NotoSansCJK-{Regular,Bold}.ttc`` (CFF outlines) with ``dpkg-deb``;
3. subset them with fontTools (hinting dropped, layout features kept for kerning and
   ligatures, names kept; see LATIN and JAPANESE for what each keeps) and write
   ``NotoSans-*.ttf`` and ``NotoSansJP-*.ttf`` plus the licence (SIL OFL 1.1, from the packages'
   copyright files).

At render time fpdf2 subsets again, to the glyphs a document uses: a PDF embeds a few kilobytes of
each font it needs, never these files whole.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "layers" / "billing" / "billing" / "fonts"

PACKAGES = {
    # Debian 12 (bookworm); update both the version and the digest together.
    "fonts-noto-core": (
        "20201225-1",
        "58f4f0bb6720f919f92096b3508e1412a0f1544424ade6c5b5bf1eb694dd64ba",
    ),
    "fonts-noto-cjk": (
        "1:20220127+repack1-1",
        "4a2515eb6db3978b897fef9709ed0d2b1f4c6c4df4d83d6c4ef65f71f1b1f502",
    ),
}

LATIN: list[tuple[int, int]] = [
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00FF),  # Latin-1 Supplement: accents of sv, de, fr, es; no-break space, ×, ¥, £, €-less
    (0x0100, 0x017F),  # Latin Extended-A: Central European names (ł, ő, š, ž, č, ...)
    (0x0218, 0x021B),  # Romanian ș ț
    (0x02BB, 0x02BC),  # modifier apostrophes (names)
    (0x02C6, 0x02C7),  # ˆ ˇ
    (0x02D8, 0x02DD),  # ˘ ˙ ˚ ˛ ˜ ˝
    (0x0300, 0x036F),  # combining accents (a name typed decomposed)
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x045F),  # Cyrillic (Russian, Ukrainian, Bulgarian, Serbian)
    (0x0490, 0x0491),  # Ukrainian ґ
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese, Welsh)
    (0x2000, 0x206F),  # General Punctuation: U+2009 thin / U+202F narrow no-break space (fr, sv
    #                    number groups), dashes, quotes, ellipsis, bullet, ‰, ′ ″
    (0x20A0, 0x20C0),  # Currency Symbols: €, ₹, ₩, ₺, ₽, ₫, ₴, ₦, ...
    (0x2116, 0x2116),  # №
    (0x2122, 0x2122),  # ™
    (0xFB01, 0xFB02),  # ﬁ ﬂ ligatures
]

SYMBOLS: list[tuple[int, int]] = [
    # What Noto Sans lacks and documents print, from Noto Sans Math (one weight: fpdf2 falls back
    # to it for bold text too).
    (0x2190, 0x2193),  # ← ↑ → ↓
    (0x2212, 0x2212),  # − minus sign: Babel writes negative amounts with it in sv, fi, nb, ...
    (0x2215, 0x2215),  # ∕ division slash
    (0x2248, 0x2248),  # ≈
    (0x2260, 0x2260),  # ≠
    (0x2264, 0x2265),  # ≤ ≥
]

JAPANESE_BLOCKS: list[tuple[int, int]] = [
    (0x3000, 0x303F),  # CJK Symbols and Punctuation (、。「」〒々〜)
    (0x3040, 0x309F),  # Hiragana
    (0x30A0, 0x30FF),  # Katakana
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0x3200, 0x32FF),  # Enclosed CJK Letters and Months (㈱ ㊤ ...)
    (0x3300, 0x33FF),  # CJK Compatibility (㎡ ㍉ ...)
    (0xFF01, 0xFF60),  # Fullwidth ASCII forms (addresses are often typed fullwidth)
    (0xFF61, 0xFF9F),  # Halfwidth katakana
    (0xFFE0, 0xFFE6),  # Fullwidth ¢ £ ¬ ¯ ¦ ¥ ₩
]


def jis_x_0208() -> set[int]:
    """Every character of JIS X 0208 (rows 1-8: symbols, kana, Greek, Cyrillic, box drawing; rows
    16-84: the 6,355 level 1 and 2 kanji), decoded through Python's EUC-JP codec."""
    found: set[int] = set()
    for row in range(1, 95):
        for cell in range(1, 95):
            try:
                text = bytes([0xA0 + row, 0xA0 + cell]).decode("euc_jp")
            except UnicodeDecodeError:
                continue
            found.update(ord(c) for c in text)
    return found


def expand(ranges: list[tuple[int, int]]) -> set[int]:
    return {cp for low, high in ranges for cp in range(low, high + 1)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(package: str, into: Path, source: Path | None) -> Path:
    version, digest = PACKAGES[package]
    if source is not None:
        found = sorted(source.glob(f"{package}_*.deb"))
        if not found:
            sys.exit(f"no {package}_*.deb in {source}")
        deb = found[-1]
    else:
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=into, check=True)
        deb = next(into.glob(f"{package}_*.deb"))
    actual = sha256(deb)
    if actual != digest:
        sys.exit(f"{deb.name}: SHA-256 {actual}, expected {digest} (update PACKAGES on purpose only)")
    target = into / package
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return target


def subset(
    source: Path, target: Path, unicodes: set[int], *, font_number: int = 0, truetype: bool = False
) -> None:
    from fontTools import subset as ft_subset

    options = ft_subset.Options()
    options.font_number = font_number
    options.hinting = False  # PDF viewers hint themselves; TrueType instructions are dead weight
    options.desubroutinize = False
    options.layout_features = []  # fpdf2 places glyphs by their advance (no shaping): no GSUB/GPOS
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    options.name_IDs = ["*"]  # keep the copyright, licence and trademark notices
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.recalc_bounds = True
    font = ft_subset.load_font(str(source), options)
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(unicodes))
    subsetter.subset(font)
    if truetype and "CFF " in font:
        cff_to_truetype(font)
    ft_subset.save_font(font, str(target), options)
    print(f"{target.name}: {len(font.getGlyphOrder())} glyphs, {target.stat().st_size:,} bytes")


def cff_to_truetype(font: Any) -> None:
    """Replace CFF (cubic) outlines by TrueType (quadratic) ones, within 1 unit of 1,000 (invisible).

    fpdf2 embeds a TrueType font as a CIDFontType2 with Identity-H encoding, the path every PDF
    reader knows; for a CID-keyed CFF font it writes its own encoding CMap, which some text
    extractors (pypdf) misread. Zipped, the TrueType subset is the same size as the CFF one."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    for field in (
        "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
        "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
    ):  # fmt: skip
        setattr(maxp, field, 0)
    font["maxp"] = maxp
    font["post"].formatType = 3.0  # no glyph names
    font.sfntVersion = "\x00\x01\x00\x00"
    font.recalcBBoxes = True


def licence(copyright_file: Path) -> str:
    """The OFL text of a Debian copyright file: the ``License: OFL-1.1`` (or ``SIL-1.1``) stanza
    that carries the text (its lines are indented; ``.`` is an empty line)."""
    lines = copyright_file.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines[:-1]):
        if line in ("License: OFL-1.1", "License: SIL-1.1") and lines[i + 1].startswith(" "):
            body = []
            for text in lines[i + 1 :]:
                if not text.startswith(" "):
                    break
                body.append("" if text.strip() == "." else text[1:])
            return "\n".join(body).strip() + "\n"
    sys.exit(f"no OFL text in {copyright_file}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a directory holding the two .deb files")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        core = fetch("fonts-noto-core", work, args.source)
        cjk = fetch("fonts-noto-cjk", work, args.source)
        latin = expand(LATIN)
        for style in ("Regular", "Bold"):
            subset(
                core / f"usr/share/fonts/truetype/noto/NotoSans-{style}.ttf",
                OUT / f"NotoSans-{style}.ttf",
                latin,
            )
        subset(
            core / "usr/share/fonts/truetype/noto/NotoSansMath-Regular.ttf",
            OUT / "NotoSansMath-Regular.ttf",
            expand(SYMBOLS),
        )
        japanese = jis_x_0208() | expand(JAPANESE_BLOCKS)
        for style in ("Regular", "Bold"):
            subset(
                cjk / f"usr/share/fonts/opentype/noto/NotoSansCJK-{style}.ttc",
                OUT / f"NotoSansJP-{style}.ttf",
                japanese,
                font_number=0,  # the collection's first face: Noto Sans CJK JP
                truetype=True,
            )
        text = licence(core / "usr/share/doc/fonts-noto-core/copyright")
        (OUT / "OFL.txt").write_text(
            "Noto Sans (NotoSans-*.ttf), Noto Sans Math (NotoSansMath-*.ttf): Copyright 2015-2020 Google LLC.\n"
            "Noto Sans CJK JP (NotoSansJP-*.ttf): Copyright 2014-2021 Adobe (http://www.adobe.com/).\n"
            "Subsets made by tools/subset_fonts.py from Debian's fonts-noto-core and fonts-noto-cjk.\n"
            "Licensed under the SIL Open Font License, Version 1.1:\n\n" + text,
            encoding="utf-8",
        )
    print(f"written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
