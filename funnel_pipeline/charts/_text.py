"""How wide chart text is drawn, so lines can be wrapped before Plotly cuts them off.

Why: Plotly never wraps a title, subtitle, tick label or legend entry, and a line wider
than the picture is simply cut ("four-fifths (80%) of the Wh…", issue 18). Counting
characters is not enough ("WWW" is three times as wide as "iii"), so each line is measured
with the advance widths of DejaVu Sans, which is what Chromium draws our font stack
("Arial, Helvetica, sans-serif") with on a Debian machine that has no Arial. DejaVu is wider
than Arial and Liberation Sans, so a line that fits here also fits where Arial is installed.

The widths are Chromium's own (canvas `measureText` at 1,000 px, DejaVu Sans Book / Bold);
`tests/e2e/test_charts_text_fit.py` checks every drawn line of every figure in real Chromium.
Text is Plotly markup: `<br>` breaks a line, other tags take no width, entities
(`&amp;`, which `inert.chart` writes) count as the one character they stand for.
"""

from __future__ import annotations

import html
import re

_CHARS = (" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
          "abcdefghijklmnopqrstuvwxyz{|}~£±·×é–—‘’“”•…→√≈≤≥")
_REGULAR = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636,
    636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698,
    770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732,
    684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635,
    634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592,
    525, 636, 337, 636, 838, 636, 838, 318, 838, 615, 500, 1000, 318, 318, 518, 518, 590,
    1000, 838, 637, 838, 838, 838)
_BOLD = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696,
    696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734,
    830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812,
    774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716,
    712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652,
    582, 712, 365, 712, 838, 696, 838, 380, 838, 678, 500, 1000, 380, 380, 657, 657, 639,
    1000, 838, 667, 838, 838, 838)
_WIDTHS = {False: dict(zip(_CHARS, _REGULAR)), True: dict(zip(_CHARS, _BOLD))}
#: a character not in the table (another script, an emoji) is taken as wide as "@"
_UNKNOWN = 1000
#: kerning, hinting and rounding in the browser: leave this much to spare
SAFETY = 1.04

_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
#: one unit of markup: a tag, an entity or one character
_UNIT = re.compile(r"<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);|.", re.DOTALL)


def shown(markup: str) -> str:
    """The characters a reader sees: tags removed, entities resolved."""
    return html.unescape(_TAG.sub("", markup))


def text_width(markup: str, size: float, *, bold: bool = False) -> float:
    """Width in pixels of one line of markup at `size` px (conservative, see SAFETY)."""
    table = _WIDTHS[bold]
    units = sum(table.get(ch, _UNKNOWN) for ch in shown(markup))
    return units * size / 1000 * SAFETY


def widest_line(markup: str, size: float, *, bold: bool = False) -> float:
    """Width of the widest line of markup that may hold `<br>`."""
    return max((text_width(line, size, bold=bold) for line in _BREAK.split(markup)), default=0.0)


def line_count(markup: str) -> int:
    return len(_BREAK.split(markup)) if markup else 0


def wrap(markup: str, max_px: float, size: float, *, bold: bool = False) -> str:
    """Markup broken into lines (`<br>`) of at most `max_px` pixels at `size` px.

    Lines break between words; a word wider than a whole line is cut between
    characters (never inside a tag or an entity). Existing breaks (`<br>`, a newline)
    are kept.
    """
    out: list[str] = []
    for paragraph in _BREAK.split(markup.replace("\n", "<br>")):
        line = ""
        for word in paragraph.split():
            for piece in _fit_word(word, max_px, size, bold):
                candidate = f"{line} {piece}" if line else piece
                if line and text_width(candidate, size, bold=bold) > max_px:
                    out.append(line)
                    line = piece
                else:
                    line = candidate
        out.append(line)
    return "<br>".join(out)


def _fit_word(word: str, max_px: float, size: float, bold: bool) -> list[str]:
    """A word as it is, or cut into pieces that each fit a line."""
    if text_width(word, size, bold=bold) <= max_px:
        return [word]
    pieces, piece = [], ""
    for unit in _UNIT.findall(word):
        if piece and text_width(piece + unit, size, bold=bold) > max_px:
            pieces.append(piece)
            piece = ""
        piece += unit
    return [*pieces, piece] if piece else pieces
