#!/usr/bin/env python3
"""Makes the escaper's table and the fuzz oracle's data from the Unicode
Character Database.

    python3 fuzz/data/generate.py SOURCE

SOURCE is one release of the UCD, either as the Unicode Consortium ships it
(a directory with extracted/DerivedGeneralCategory.txt and
DerivedCoreProperties.txt) or as the npm package `@unicode/unicode-X.Y.Z`
carries the same two properties (a directory with General_Category/ and
Binary_Property/, read through `node`, which decodes its ranges). Both give
the same output. It writes, from the repository root:

- fuzz/data/unicode-VERSION.txt: General_Category and
  Default_Ignorable_Code_Point of every code point, one line per run. The
  property tests parse it on their own (fuzz/checks/escape.rs), so the
  table below is checked against the UCD, not against itself.
- src/escape/table.rs: the sorted ranges the escaper searches.

What is escaped, and why (the rule lives here and in fuzz/checks/escape.rs):
Cc (controls), Cf (format: bidi controls, zero widths, soft hyphen, tags),
Zl and Zp (line and paragraph separators), every Default_Ignorable_Code_Point
(invisible by definition: variation selectors, Hangul fillers), Co (private
use: terminals give it meaning, e.g. kitty's image placeholder U+10EEEE), Cn
(unassigned: a terminal on a newer Unicode may give it meaning; escaping
costs a new character its glyph until the table is remade, showing it could
cost a reordered line) and Cs (never in valid UTF-8; the escaper sees those
bytes as invalid and escapes them byte by byte anyway). Table cells also
escape Zs (blanks); ASCII whitespace besides the space is Cc already.
"""

import json
import pathlib
import re
import subprocess
import sys

ESCAPED = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
BLANK = {"Zs"}
LAST = 0x10FFFF
LINE = re.compile(r"^([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*([A-Za-z_]+)")

# General_Category's long value names (PropertyValueAliases.txt), which name
# the npm package's directories.
LONG_NAMES = {
    "Cc": "Control", "Cf": "Format", "Cn": "Unassigned", "Co": "Private_Use",
    "Cs": "Surrogate", "Ll": "Lowercase_Letter", "Lm": "Modifier_Letter",
    "Lo": "Other_Letter", "Lt": "Titlecase_Letter", "Lu": "Uppercase_Letter",
    "Mc": "Spacing_Mark", "Me": "Enclosing_Mark", "Mn": "Nonspacing_Mark",
    "Nd": "Decimal_Number", "Nl": "Letter_Number", "No": "Other_Number",
    "Pc": "Connector_Punctuation", "Pd": "Dash_Punctuation",
    "Pe": "Close_Punctuation", "Pf": "Final_Punctuation",
    "Pi": "Initial_Punctuation", "Po": "Other_Punctuation",
    "Ps": "Open_Punctuation", "Sc": "Currency_Symbol", "Sk": "Modifier_Symbol",
    "Sm": "Math_Symbol", "So": "Other_Symbol", "Zl": "Line_Separator",
    "Zp": "Paragraph_Separator", "Zs": "Space_Separator",
}

# Prints {"Cc": [[first, last], ...], ..., "DI": [...]} from the package.
NODE = """
const [dir, ...names] = process.argv.slice(1);
const load = async (path) =>
  (await import(`${dir}/${path}/ranges.mjs`)).default.map((r) => [r.begin, r.end - 1]);
const out = {};
for (const [short, long] of names.map((n) => n.split('='))) {
  out[short] = await load(`General_Category/${long}`);
}
out.DI = await load('Binary_Property/Default_Ignorable_Code_Point');
console.log(JSON.stringify(out));
"""


def ranges_txt(path):
    """(first, last, value) of each data line of a UCD .txt file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match:
            first, last, value = match.groups()
            yield int(first, 16), int(last or first, 16), value


def from_txt(source):
    core_txt = source / "DerivedCoreProperties.txt"
    first = core_txt.read_text(encoding="utf-8").splitlines()[0]
    version = re.search(r"-(\d+\.\d+\.\d+)\.txt", first).group(1)
    gc = list(ranges_txt(source / "extracted/DerivedGeneralCategory.txt"))
    di = [(a, b) for a, b, v in ranges_txt(core_txt) if v == "Default_Ignorable_Code_Point"]
    return version, gc, di


def from_npm(source):
    names = [f"{short}={long}" for short, long in LONG_NAMES.items()]
    script = ["node", "--input-type=module", "-e", NODE, str(source.resolve()), *names]
    ranges = json.loads(subprocess.run(script, check=True, capture_output=True).stdout)
    gc = [(a, b, short) for short in LONG_NAMES for a, b in ranges[short]]
    package = json.loads((source / "package.json").read_text(encoding="utf-8"))
    version = re.fullmatch(r"@unicode/unicode-(\d+\.\d+\.\d+)", package["name"]).group(1)
    return version, gc, ranges["DI"]


def load(source):
    npm = (source / "General_Category").is_dir()
    version, gc, di = from_npm(source) if npm else from_txt(source)
    # Code points the .txt file does not list are Cn (UAX #44, "@missing");
    # the npm package lists them all.
    category = [None if npm else "Cn"] * (LAST + 1)
    for first, last, value in gc:
        category[first : last + 1] = [value] * (last - first + 1)
    missing = [cp for cp, value in enumerate(category) if value is None]
    if missing:
        sys.exit(f"no General_Category for U+{missing[0]:04X} and {len(missing) - 1} more")
    ignorable = [False] * (LAST + 1)
    for first, last in di:
        ignorable[first : last + 1] = [True] * (last - first + 1)
    return version, category, ignorable


def runs(values):
    """(first, last, value) of each maximal run of equal values."""
    first = 0
    for cp in range(1, LAST + 2):
        if cp > LAST or values[cp] != values[first]:
            yield first, cp - 1, values[first]
            first = cp


def hex_range(first, last):
    return f"{first:04X}" if first == last else f"{first:04X}..{last:04X}"


def main():
    ucd = pathlib.Path(sys.argv[1])
    root = pathlib.Path(__file__).resolve().parents[2]
    version, category, ignorable = load(ucd)

    data = root / f"fuzz/data/unicode-{version}.txt"
    with data.open("w", encoding="utf-8") as out:
        out.write(
            f"# Unicode {version}: General_Category and Default_Ignorable_Code_Point\n"
            "# of every code point U+0000..U+10FFFF, one line per run of code points\n"
            "# that share both: FIRST[..LAST] ; GC [; DI]\n"
            "# Made by fuzz/data/generate.py from the Unicode Character Database\n"
            f"# {version} (extracted/DerivedGeneralCategory.txt, DerivedCoreProperties.txt).\n"
            "# Data © 2025 Unicode®, Inc., under the Unicode License v3:\n"
            "# https://www.unicode.org/license.txt\n"
        )
        for first, last, (gc, di) in runs(list(zip(category, ignorable))):
            out.write(f"{hex_range(first, last)} ; {gc}{' ; DI' if di else ''}\n")

    escaped = [c in ESCAPED or di for c, di in zip(category, ignorable)]
    blank = [c in BLANK for c in category]
    major, minor, patch = version.split(".")
    table = root / "src/escape/table.rs"
    with table.open("w", encoding="utf-8") as out:
        out.write(
            f"//! Generated by `fuzz/data/generate.py` from the Unicode {version} Character\n"
            "//! Database: do not edit. Sorted, disjoint, inclusive ranges.\n\n"
            "/// The Unicode version the tables below were made from.\n"
            f"pub const UNICODE_VERSION: (u8, u8, u8) = ({major}, {minor}, {patch});\n\n"
        )
        for name, doc, values in [
            (
                "ESCAPED",
                "General_Category Cc, Cf, Zl, Zp, Cs, Co, Cn, and\n"
                "/// Default_Ignorable_Code_Point: escaped in every form.",
                escaped,
            ),
            ("BLANK", "General_Category Zs: escaped in table cells.", blank),
        ]:
            spans = [(a, b) for a, b, v in runs(values) if v]
            out.write(f"/// {doc}\npub static {name}: [(u32, u32); {len(spans)}] = [\n")
            for a, b in spans:
                out.write(f"    (0x{a:04X}, 0x{b:04X}),\n")
            out.write("];\n")
    print(f"Unicode {version}: {data.relative_to(root)}, {table.relative_to(root)}")


if __name__ == "__main__":
    main()
