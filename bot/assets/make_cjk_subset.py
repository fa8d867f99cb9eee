"""Rebuild XuexiSansSC-Regular.otf, the CJK font the image renderers use.

Not run by the bot: the result is committed beside this script. It needs fontTools
(`pip install fonttools`, a build-time tool only) and the source font from Debian's
fonts-noto-cjk package (`apt-get install fonts-noto-cjk`, SIL OFL 1.1):

    python bot/assets/make_cjk_subset.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The subset keeps Noto Sans CJK SC's glyphs for every character of GB 2312 (6,763 hanzi plus
its symbols, kana, Greek and Cyrillic), Latin-1, general punctuation, CJK punctuation,
full-width forms, circled numbers and a few arrows and ticks, and a short list of name
characters outside GB 2312. It is renamed (OFL: a modified version must not use the
original's reserved names) and stays under the OFL (OFL.txt beside it).
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

FAMILY = "Xuexi Sans SC"
PS_NAME = "XuexiSansSC-Regular"
OUT = Path(__file__).with_name("XuexiSansSC-Regular.otf")
SC_FACE = "NotoSansCJKsc-Regular"

# Characters common in personal and place names that GB 2312 lacks.
NAME_EXTRAS = (
    "乂佺倢偲冏劼勍叡啰喆垚堃婳媞嫚孖寀峣彧忞愔旸旻旼昇昉昺晞暐曌杺沄淏湉濛炆炘烜焜燊燚犇"
    "玠玥珅珺琍琤瑀瑄璟璠瓅甡畯矞祎祐禕禤翀翾脩芃萩蒨衎訸諠谞贇赟锜镕陞韡頔颋飏鹍鹓龑"
)

RANGES = [
    (0x0020, 0x007E), (0x00A0, 0x017F), (0x2000, 0x206F), (0x2100, 0x21FF),
    (0x2460, 0x24FF), (0x25A0, 0x25FF), (0x2600, 0x26FF), (0x2700, 0x27BF),
    (0x3000, 0x303F), (0xFF00, 0xFFEF),
]


def gb2312_codepoints() -> set[int]:
    out: set[int] = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return out


def source_face(path: str) -> TTFont:
    if path.lower().endswith((".ttc", ".otc")):
        for face in TTCollection(path).fonts:
            if face["name"].getDebugName(6) == SC_FACE:
                return face
        raise SystemExit(f"{SC_FACE} not found in {path}")
    return TTFont(path)


def rename(font: TTFont) -> None:
    names = font["name"]
    original = names.getDebugName(4)
    keep = {0, 7, 8, 9, 11, 12, 13, 14}  # copyright, trademark, vendor, designer, URLs, licence
    names.names = [rec for rec in names.names if rec.nameID in keep]
    for name_id, value in {
        1: FAMILY, 2: "Regular", 3: f"{PS_NAME};subset of {original}", 4: f"{FAMILY} Regular",
        5: "Version 1.0; subset of " + original, 6: PS_NAME,
        10: f"Subset of {original} (SIL Open Font License 1.1) for xuexi-bot images.",
    }.items():
        names.setName(value, name_id, 3, 1, 0x409)
        names.setName(value, name_id, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [PS_NAME]
        top = cff.topDictIndex[0]
        for attr, value in (("FullName", f"{FAMILY} Regular"), ("FamilyName", FAMILY)):
            if hasattr(top, attr):
                setattr(top, attr, value)
        if hasattr(top, "CIDFontName"):
            top.CIDFontName = PS_NAME


def main(source: str) -> None:
    codepoints = gb2312_codepoints() | {ord(c) for c in NAME_EXTRAS}
    for lo, hi in RANGES:
        codepoints.update(range(lo, hi + 1))
    font = source_face(source)
    options = subset.Options()
    # fontTools' default features (kern, locl, vert, ...); "*" would pull in every aalt alternate.
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    rename(font)
    font.save(OUT)
    print(f"{OUT}: {OUT.stat().st_size:,} bytes, {len(font.getGlyphOrder()):,} glyphs")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
