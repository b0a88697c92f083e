"""Rendering retries a figure only when kaleido's browser tab was not ready yet.

The race itself (a render sent before the tab's script loaded) shows only on a loaded
machine, so kaleido's failure is played here by a stand-in for the one call that reaches
the browser; the retry decision is this project's code and is what is tested."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from funnel_pipeline.charts import render

NOT_READY = ("PNG rendering failed: {'result': {'className': 'ReferenceError', 'description': "
             "'ReferenceError: kaleido_scopes is not defined'}}")


def _scripted(monkeypatch: pytest.MonkeyPatch, outcomes: list[object]) -> list[str]:
    calls: list[str] = []

    def call(fig, width, height, scale, fmt="png"):
        calls.append(fmt)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(render, "_call", call)
    monkeypatch.setattr(render.time, "sleep", lambda _s: None)
    return calls


def test_a_render_before_the_tab_was_ready_is_drawn_again(monkeypatch):
    calls = _scripted(monkeypatch, [RuntimeError(NOT_READY), b"png"])
    assert render.render_png(go.Figure()) == b"png"
    assert calls == ["png", "png"]


def test_other_failures_and_a_tab_that_never_gets_ready_are_not_hidden(monkeypatch):
    calls = _scripted(monkeypatch, [RuntimeError("PNG rendering failed: Error 525")])
    with pytest.raises(RuntimeError, match="Error 525"):
        render.render_png(go.Figure())
    assert len(calls) == 1
    calls = _scripted(monkeypatch, [RuntimeError(NOT_READY)] * render.NOT_READY_ATTEMPTS)
    with pytest.raises(RuntimeError, match="kaleido_scopes"):
        render.render_svg(go.Figure())
    assert len(calls) == render.NOT_READY_ATTEMPTS
