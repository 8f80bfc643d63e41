#!/usr/bin/env python3
"""Writes runtime/src/UnicodeTables.inc: the codepoint ranges of Unicode
letters (L*), numbers (N*) and White_Space that the tokenizer's GPT-2
pre-tokenizer pattern needs, from this Python's unicodedata.

    python3 tools/gen-unicode-tables.py > runtime/src/UnicodeTables.inc
"""
import sys
import unicodedata

# PropList.txt's White_Space, which Python's unicodedata does not expose.
WHITE_SPACE = [0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680,
               *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]


def ranges(member):
    out, start = [], None
    for cp in range(0x110000):
        if member(cp) and start is None:
            start = cp
        elif not member(cp) and start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, 0x10FFFF))
    return out


def emit(name, rs):
    lines = [f"static const CodepointRange {name}[] = {{"]
    for i in range(0, len(rs), 4):
        lines.append("    " + ", ".join(f"{{0x{a:X}, 0x{b:X}}}" for a, b in rs[i:i + 4]) + ",")
    lines.append("};")
    return "\n".join(lines)


def main():
    letters = ranges(lambda c: unicodedata.category(chr(c)).startswith("L"))
    numbers = ranges(lambda c: unicodedata.category(chr(c)).startswith("N"))
    space = set(WHITE_SPACE)
    white = ranges(lambda c: c in space)
    print(f"""// Unicode character classes of the GPT-2 pre-tokenizer pattern: letters
// (general category L*), numbers (N*) and White_Space, as sorted codepoint
// ranges. Generated from Python {sys.version.split()[0]}'s unicodedata (Unicode
// {unicodedata.unidata_version}) by tools/gen-unicode-tables.py; do not edit.
// clang-format off
struct CodepointRange {{
  unsigned first, last;
}};
{emit('kLetterRanges', letters)}
{emit('kNumberRanges', numbers)}
{emit('kWhiteSpaceRanges', white)}
// clang-format on""")


if __name__ == "__main__":
    main()
