"""Inert data: every value that came from input, made safe for the place it lands.

Why one module: landing files and configuration files come from other systems and other
people. A campaign id such as ``![r](/graphql?query=mutation …)`` pasted into Dagster
markdown becomes an image the viewer's browser fetches (and Dagster's GraphQL runs a
mutation sent as a GET); ``<a href=…>`` in a Plotly label becomes a live link; ``=HYPERLINK(…)``
in a CSV becomes a formula. Every writer that shows an input value calls the function
for its medium here, exactly once (escaping twice shows ``&amp;`` instead of ``&``).

Media:

- ``md`` — Dagster markdown (react-markdown with GFM): every ASCII punctuation character
  is backslash-escaped (CommonMark lets any of them be escaped), so no link, image, HTML
  tag, entity, emphasis or table cell break can form; line breaks and control characters
  become spaces. GFM's literal autolinks are found in the text *after* escapes are read
  (the UI turned an escaped ``http\\:\\/\\/…`` into a live link), so an invisible word
  joiner (U+2060) also splits ``http://``, ``www.`` and ``@`` from what follows them.
- ``html`` — HTML text or attribute values (``html.escape`` with quotes).
- ``chart`` — Plotly text (titles, tick labels, hover text): Plotly reads a subset of
  HTML (``<a href>``, ``<b>``, ``<br>``, entities), so the value is HTML-escaped once and
  line breaks removed; long values are shortened (the full value stays in the data).
- ``cell`` — a spreadsheet or CSV cell: text that a spreadsheet would read as a formula
  (OWASP "CSV injection") gets a leading apostrophe.

``shorten`` cuts a value for display only; nothing here changes what is stored.
"""

from __future__ import annotations

import html as _html
import re

#: longest input value shown in full in metadata, reports and charts (display only)
DISPLAY_LIMIT = 80
#: ids and entry routes longer than this are rejected on landing (docs/LANDING.md): an id
#: that long is not a real key, and a 1,000,000-character one would be copied into every
#: chart, report and metadata entry that names it
MAX_KEY_LENGTH = 200

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
#: where GFM would start a literal autolink: a scheme's "//", "www.", an e-mail's "@"
_AUTOLINK_START = re.compile(r"(?i)(https?:)(?=//)|\b(www)(?=\.)|(@)")
WORD_JOINER = "\u2060"
#: first characters a spreadsheet reads as a formula, plus the tab / carriage return that
#: some programs strip before looking
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def shorten(value: object, limit: int = DISPLAY_LIMIT) -> str:
    """The value as one line of text, cut to `limit` characters with an ellipsis."""
    text = " ".join(_CONTROL.sub(" ", "" if value is None else str(value)).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def md(value: object, limit: int = DISPLAY_LIMIT) -> str:
    """Input text for Dagster markdown: shown as typed, never a link, image or tag."""
    text = _AUTOLINK_START.sub(lambda m: m.group(0) + WORD_JOINER, shorten(value, limit))
    return _MD_PUNCTUATION.sub(r"\\\1", text)


def html(value: object, limit: int | None = DISPLAY_LIMIT) -> str:
    """Input text for HTML (element text or a quoted attribute value)."""
    text = shorten(value, limit) if limit else ("" if value is None else str(value))
    return _html.escape(text, quote=True)


def chart(value: object, limit: int = 40) -> str:
    """Input text for a Plotly label, title or hover text: literal, one line, bounded."""
    return _html.escape(shorten(value, limit), quote=False)


def cell(value: object) -> object:
    """A spreadsheet / CSV cell: formula-like text gets a leading apostrophe (shown as
    text, not evaluated). Numbers and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
