"""The web page in Debian's Chromium, driven by Playwright: upload, scores, heatmap overlay,
opacity slider, layer selector, sorting, CSV download, error message, API key.

Skipped only when /usr/bin/chromium is absent (`apt-get install -y chromium`); Playwright's
own browser download (`playwright install`) is never used. Screenshots are saved under the
folder the test prints (GENZIQA_ARTIFACTS, or pytest's temporary folder).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest

from .conftest import FakeExplanation, FakeModel, serving

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

MODEL_TEXT = "document.querySelector('#model').textContent"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed (apt-get install -y chromium)",
    ),
]

from genziqa.serve.app import ServeSettings, create_app  # noqa: E402


class TinyWithTestMaps:
    """The real tiny model's scores, with the fake explanation's deterministic maps (the
    page test needs heatmaps before genziqa.explain exists; nothing here is shipped)."""

    def __init__(self, model) -> None:
        self.model = model

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def score(self, images, batch_size: int = 8):
        return self.model.score(images, batch_size=batch_size)

    def explain(self, images):
        explanation = FakeExplanation(images)
        explanation.score = self.model.score(images, batch_size=len(images))
        return explanation


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("GENZIQA_ARTIFACTS")
    folder = Path(root) / "serve-page" if root else tmp_path_factory.mktemp("serve-page")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots and downloads of the page tests: {folder}")
    return folder


@pytest.fixture()
def browser(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"  # empty: a fresh --user-data-dir
    profile.mkdir()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            accept_downloads=True,
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(120_000)
        try:
            yield context
        finally:
            context.close()


def _open(browser, url: str, expected_statuses: tuple[int, ...] = ()):
    """A new page on ``url`` that records console errors (a CSP violation or a script error
    would be one) except the failed loads of the HTTP statuses the test provokes."""
    page = browser.new_page()
    page.console_errors = []

    def on_console(message) -> None:
        text = message.text
        provoked = any(f"status of {code} " in text for code in expected_statuses)
        if message.type == "error" and not provoked:
            page.console_errors.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.goto(url)
    return page


def _pixels(page, index: int) -> np.ndarray:
    """The heat canvas of card ``index`` as an (H, W, 4) array."""
    data = page.evaluate(
        """(i) => {
            const c = document.querySelectorAll('.card .heat')[i];
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
            return {w: c.width, h: c.height, data: Array.from(d.data)};
        }""",
        index,
    )
    return np.array(data["data"], dtype=np.uint8).reshape(data["h"], data["w"], 4)


def _wait_done(page, count: int) -> None:
    page.wait_for_function(
        """(n) => {
            const rows = document.querySelectorAll('#table tbody tr');
            return rows.length === n && [...rows].every(
                r => r.children[3].textContent !== 'pending');
        }""",
        arg=count,
    )


def test_upload_scores_heatmaps_slider_layers_sort_and_csv(browser, artifacts, image_files) -> None:
    from genziqa.jobs.runtime import ScoringOptions, load_for_scoring

    tiny = load_for_scoring(ScoringOptions("genziqa-tiny", device="cpu", timesteps=2, offline=True))
    good = ["a.png", "b.jpg"]
    expected = dict(zip(good, tiny.score([image_files[n] for n in good]).tolist(), strict=True))
    settings = ServeSettings(model_name="genziqa-tiny")
    with serving(create_app(lambda: TinyWithTestMaps(tiny), settings)) as url:
        page = _open(browser, url, expected_statuses=(415,))
        page.wait_for_function(f"() => {MODEL_TEXT}.includes('tiny')")
        assert "genziqa-tiny" in page.inner_text("#model")
        assert tiny.fingerprint()[:12] in page.inner_text("#model")
        page.screenshot(path=artifacts / "1-empty.png", full_page=True)

        page.set_input_files("#files", [str(image_files[n]) for n in [*good, "notes.txt"]])
        _wait_done(page, 3)
        page.wait_for_function(
            "() => document.querySelectorAll('.card .heat:not([hidden])').length == 2"
        )
        page.screenshot(path=artifacts / "2-scored.png", full_page=True)

        cards = page.locator(".card")
        for i, name in enumerate(good):
            card = cards.nth(i)
            assert card.locator(".name").inner_text() == name
            assert f"{expected[name]:.4f}" in card.locator(".score").inner_text()
            assert "genziqa-tiny" in card.locator(".score").inner_text()
        bad = cards.nth(2)
        assert "could not be scored" in bad.locator(".score").inner_text()
        assert "not a supported image" in bad.locator(".error").inner_text()
        assert bad.locator(".heat").is_hidden()

        # The heatmap: the aggregate test map rises left to right.
        heat = _pixels(page, 0)
        assert heat.shape[:2] == (72, 96)  # a.png is 96 x 72
        left, right = heat[:, :8, :3].mean(), heat[:, -8:, :3].mean()
        assert right > left + 100
        canvas = cards.nth(0).locator(".heat")
        assert canvas.evaluate("c => getComputedStyle(c).opacity") == "0.6"
        cards.nth(0).locator(".opacity").fill("15")
        assert canvas.evaluate("c => getComputedStyle(c).opacity") == "0.15"
        page.screenshot(path=artifacts / "3-slider-low.png", full_page=True)
        cards.nth(0).locator(".opacity").fill("95")
        assert canvas.evaluate("c => getComputedStyle(c).opacity") == "0.95"

        # The layer selector: "up_blocks.1.attn2" is 1 - map, so it falls left to right.
        layers = cards.nth(0).locator(".layer option").all_inner_texts()
        assert layers == ["all layers", "down_blocks.0.attn2", "up_blocks.1.attn2"]
        cards.nth(0).locator(".layer").select_option("up_blocks.1.attn2")
        flipped = _pixels(page, 0)
        assert flipped[:, :8, :3].mean() > flipped[:, -8:, :3].mean() + 100
        page.screenshot(path=artifacts / "4-layer.png", full_page=True)
        # The real model's layer names are long (down_blocks.1.attentions.0.transformer_
        # blocks.0.attn2): the controls must stay inside their card, not spill into the next.
        long_name = "down_blocks.1.attentions.0.transformer_blocks.0.attn2"
        cards.nth(0).locator(".layer").evaluate(f"s => s.add(new Option('{long_name}'))")
        for i in range(2):
            box = cards.nth(i).bounding_box()
            for control in cards.nth(i).locator(".controls select, .controls input").all():
                inner = control.bounding_box()
                assert (
                    box["x"] <= inner["x"]
                    and inner["x"] + inner["width"] <= box["x"] + box["width"]
                ), "a control spills out of its card"
        assert (
            cards.nth(0)
            .locator(".overlay-link")
            .get_attribute("href")
            .startswith("data:image/png;base64,")
        )

        # Sorting by score: highest first, the unscored file last.
        page.click("#table th[data-key='score']")
        names = page.locator("#table tbody tr td:nth-child(2)").all_inner_texts()
        assert names == [*sorted(good, key=lambda n: -expected[n]), "notes.txt"]
        page.click("#table th[data-key='score']")
        names = page.locator("#table tbody tr td:nth-child(2)").all_inner_texts()
        assert names == [*sorted(good, key=lambda n: expected[n]), "notes.txt"]
        page.screenshot(path=artifacts / "5-sorted.png", full_page=True)

        with page.expect_download() as download:
            page.click("#csv")
        saved = artifacts / "genziqa-scores.csv"
        download.value.save_as(saved)
        assert page.console_errors == []
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [row["name"] for row in rows] == [*good, "notes.txt"]
    for row in rows[:2]:
        assert float(row["score"]) == expected[row["name"]]  # exact: the full double
        assert row["status"] == "ok" and row["error"] == ""
        assert row["model"] == "genziqa-tiny" and row["fingerprint"] == tiny.fingerprint()
    assert rows[2]["status"] == "error" and rows[2]["score"] == ""
    assert "not a supported image" in rows[2]["error"]


def test_api_key_form_and_scores_without_heatmaps(browser, artifacts, image_files) -> None:
    settings = ServeSettings(model_name="fake", api_key="page-key")
    with serving(create_app(FakeModel, settings)) as url:
        page = _open(browser, url, expected_statuses=(401, 413))
        page.wait_for_selector("#key-form:not([hidden])")
        page.fill("#key", "page-key")
        page.click("#key-form button")
        page.wait_for_function(f"() => {MODEL_TEXT}.includes('fake')")
        assert "zero-shot baseline (untrained)" in page.inner_text("#model .badge")
        assert "not available" in page.inner_text("#heat-note")
        page.set_input_files("#files", [str(image_files["c.webp"]), str(image_files["bomb.png"])])
        _wait_done(page, 2)
        page.screenshot(path=artifacts / "6-key-no-heatmaps.png", full_page=True)
        cells = page.locator("#table tbody tr td:nth-child(4)").all_inner_texts()
        assert cells == ["ok", "error"]
        assert "decompression bomb" in page.locator(".card").nth(1).inner_text()
        assert page.locator(".card .heat:not([hidden])").count() == 0
        assert page.console_errors == []
