"""HTML report: structure, escaping, decay sampling, and a render in a real headless browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from rules.offline.explain import explain_many
from rules.offline.report import curve, render_html
from tests.rules.builders import T0, make_rulebook, opened, visit

VP = {"email": "vera@acme.com", "seniority": "vp", "title": "VP <script>alert(1)</script>"}
ANA = {"email": "ana@acme.com"}


def _timelines():  # type: ignore[no-untyped-def]
    signals = [
        opened("o1", T0, who=VP, subject='Hi "there" & <b>you</b>'),
        visit("v1", T0 + timedelta(hours=1), who=VP),
        visit("a1", T0 + timedelta(hours=2), who=ANA),
        visit("v2", T0 + timedelta(days=1), who=VP),
        visit("a2", T0 + timedelta(days=3), who=ANA, path="/docs/<img src=x>"),
    ]
    return list(explain_many(make_rulebook(), signals).values())


def test_curve_samples_events_and_decay_between_them() -> None:
    rulebook = make_rulebook()
    vera = next(t for t in _timelines() if t.person_key == "vera@acme.com")
    points = curve(vera, rulebook, samples=100)
    times = [t for t, _ in points]
    assert times == sorted(times)
    for step in vera.steps:  # the value right after each event is on the line
        assert (step.score.at, step.score.total) in points
    between = [v for t, v in points if vera.steps[1].score.at < t < vera.steps[2].score.at]
    assert len(between) > 10
    assert between == sorted(between, reverse=True)  # decay only goes down
    assert points[-1][0] > vera.steps[-1].score.at  # the tail shows decay after the last event


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(_timelines(), make_rulebook())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "alert(1)</script>" not in page
    assert "&lt;b&gt;you&lt;/b&gt;" in page and "&lt;img src=x&gt;" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "<link" not in page
    assert page.count('<polyline class="score"') == 2
    assert page.count('class="threshold"') == 2
    assert page.count('<circle class="window"') == 1


def _png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixels of an 8-bit RGB(A) PNG (no dependencies)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    previous = bytearray(stride)
    pixels: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        if row % 8 == 0:  # every 8th row is plenty to tell a chart from a blank page
            pixels.update(bytes(line[i : i + 3]) for i in range(0, stride, bpp * 4))
        previous = line
    return width, height, pixels


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "chromium is not installed: the report must be checked in a real browser. "
        "Install it (Debian: apt-get install -y chromium; `make tools` does it in CI)."
    )


def _headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_renders_in_a_real_headless_browser(tmp_path: Path) -> None:
    timelines = _timelines()
    page = tmp_path / "report.html"
    page.write_text(render_html(timelines, make_rulebook()), encoding="utf-8")
    shot = tmp_path / "r.png"
    run = _headless(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    assert shot.exists(), f"no screenshot; chromium said:\n{run.stderr[-2000:]}"
    data = shot.read_bytes()
    assert len(data) > 5_000, len(data)
    width, height, pixels = _png_pixels(data)
    assert (width, height) == (1200, 900)
    assert len(pixels) > 20, "the screenshot is (nearly) one colour"

    dom = _headless(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for timeline in timelines:
        assert f'data-person="{timeline.person_key}"' in dom.stdout
    assert len(re.findall(r"<polyline [^>]*class=\"score\"", dom.stdout)) == len(timelines)
    assert "<svg" in dom.stdout and "<script" not in dom.stdout
