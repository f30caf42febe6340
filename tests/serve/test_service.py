"""The service with the real tiny GenzIQA: in-process (uvicorn in a thread) and as the
`genziqa serve` subprocess (SIGTERM drains in-flight requests, exit codes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from .conftest import free_port, serving, wait_ready

httpx = pytest.importorskip("httpx")

from genziqa.serve.app import ServeSettings, create_app  # noqa: E402

GOOD = ("a.png", "b.jpg", "c.webp", "anim.gif", "rgba.png")
SRC = Path(__file__).resolve().parents[2] / "src"


def _files(paths, *names):
    return [("files", (n, paths[n].read_bytes(), "application/octet-stream")) for n in names]


@pytest.fixture(scope="module")
def tiny():
    """genziqa-tiny at 2 timesteps, loaded the way `genziqa score` loads it."""
    from genziqa.jobs.runtime import ScoringOptions, load_for_scoring

    return load_for_scoring(ScoringOptions("genziqa-tiny", device="cpu", timesteps=2, offline=True))


@pytest.fixture(scope="module")
def tiny_url(tiny):
    settings = ServeSettings(model_name="genziqa-tiny", max_batch_size=8, max_wait_ms=50)
    with serving(create_app(lambda: tiny, settings)) as url:
        yield url


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the metrics")


def test_scores_equal_genziqa_score_bit_for_bit(tiny, tiny_url, image_files) -> None:
    expected = tiny.score([image_files[n] for n in GOOD], batch_size=1)
    together = httpx.post(f"{tiny_url}/v1/score", files=_files(image_files, *GOOD), timeout=120)
    assert together.status_code == 200
    body = together.json()
    assert body["model"]["name"] == "genziqa-tiny"
    assert body["model"]["fingerprint"] == tiny.fingerprint()
    assert body["model"]["zero_shot"] is False and body["model"]["label"] is None
    assert body["model"]["timesteps"] == list(tiny.config.scoring.timesteps)
    served = [row["score"] for row in body["results"]]
    assert served == expected.tolist()  # exact: same floats, not close ones
    for name, value in zip(GOOD, expected.tolist(), strict=True):
        alone = httpx.post(f"{tiny_url}/v1/score", files=_files(image_files, name), timeout=120)
        assert alone.json()["results"][0]["score"] == value


def test_scores_equal_the_cli_rows(tiny_url, image_files, tmp_path) -> None:
    from genziqa.cli import main

    out = tmp_path / "scores.csv"
    paths = [str(image_files[n]) for n in GOOD]
    args = ["score", *paths, "--model", "genziqa-tiny", "--timesteps", "2", "--workers", "0"]
    assert main([*args, "--device", "cpu", "-q", "-o", str(out)]) == 0
    cli = pd.read_csv(out).set_index("path")["score"]
    rows = httpx.post(f"{tiny_url}/v1/score", files=_files(image_files, *GOOD), timeout=120)
    for name, row in zip(GOOD, rows.json()["results"], strict=True):
        assert row["score"] == cli[str(image_files[name])]


def test_concurrent_requests_form_batches_with_unchanged_scores(tiny, tiny_url, image_files):
    before = httpx.get(f"{tiny_url}/metrics").text
    calls0 = _metric(before, 'genziqa_batch_size_count{kind="score"}')
    images0 = _metric(before, 'genziqa_batch_size_sum{kind="score"}')
    names = [GOOD[i % len(GOOD)] for i in range(12)]
    barrier = threading.Barrier(len(names))

    def one(name):
        barrier.wait()
        return httpx.post(f"{tiny_url}/v1/score", files=_files(image_files, name), timeout=120)

    with ThreadPoolExecutor(len(names)) as pool:
        responses = list(pool.map(one, names))
    after = httpx.get(f"{tiny_url}/metrics").text
    calls = _metric(after, 'genziqa_batch_size_count{kind="score"}') - calls0
    images = _metric(after, 'genziqa_batch_size_sum{kind="score"}') - images0
    assert images == len(names)
    assert calls < len(names), "no batch held more than one request's image"
    alone = dict(zip(GOOD, tiny.score([image_files[n] for n in GOOD], batch_size=1), strict=True))
    for name, response in zip(names, responses, strict=True):
        assert response.status_code == 200
        assert response.json()["results"][0]["score"] == alone[name]


def test_explain_with_the_real_model_equals_model_explain(tiny, tiny_url, image_files) -> None:
    """/v1/explain on the real tiny model: the scores are GenzIQA.score's bit for bit, and the
    maps and overlays are model.explain's (a fake model's wire format is test_app's)."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from genziqa.serve.wire import decode_map

    names = ("a.png", "b.jpg")
    url = f"{tiny_url}/v1/explain?layers=true"
    response = httpx.post(url, files=_files(image_files, *names), timeout=300)
    assert response.status_code == 200
    rows = response.json()["results"]
    images = [Image.open(image_files[n]).convert("RGB") for n in names]
    expected = tiny.explain(images)
    scores = tiny.score([image_files[n] for n in names])
    for i, (row, image) in enumerate(zip(rows, images, strict=True)):
        assert row["status"] == "ok" and row["score"] == float(scores[i])
        raw = decode_map(row["map"])
        assert raw.dtype == np.float16 and raw.shape == (image.height, image.width)
        assert np.array_equal(raw, np.asarray(expected.map[i]).astype(np.float16))
        overlay = Image.open(io.BytesIO(base64.b64decode(row["overlay_png"])))
        assert np.array_equal(np.asarray(overlay.convert("RGB")), np.asarray(expected.overlay(i)))
        assert set(row["layers"]) == set(expected.layer_maps) and len(row["layers"]) > 1


def test_every_endpoint_answers(tiny_url) -> None:
    assert httpx.get(f"{tiny_url}/healthz").status_code == 200
    assert httpx.get(f"{tiny_url}/readyz").json()["status"] == "ready"
    assert httpx.get(f"{tiny_url}/v1/model").json()["name"] == "genziqa-tiny"
    assert "genziqa_http_requests_total" in httpx.get(f"{tiny_url}/metrics").text
    assert httpx.get(f"{tiny_url}/docs").status_code == 200
    assert "<title>genziqa" in httpx.get(f"{tiny_url}/").text


# ------------------------------------------------------------------------------ subprocess


def _serve(*args: str) -> subprocess.Popen:
    # One torch thread: on a CPU shared with other jobs two threads ran the tiny model 40x
    # slower; these tests are about the process (drain, exit codes), not its speed.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "genziqa", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_finishes_in_flight_requests_then_exits_0(image_files) -> None:
    port = free_port()
    proc = _serve(
        "--model", "genziqa-tiny-zero-shot", "--port", str(port), "--timesteps", "2",
        "--max-wait-ms", "0", "--max-batch-size", "2", "--log-level", "warning",
        "--shutdown-timeout", "600",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, timeout=180, process=proc)
        model = httpx.get(f"{url}/v1/model").json()
        assert model["zero_shot"] is True
        assert model["label"] == "zero-shot baseline (untrained)"
        names = ("a.png", "b.jpg")
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(
                    httpx.post, f"{url}/v1/score", files=_files(image_files, *names), timeout=300
                )
                for _ in range(3)
            ]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # all three in flight (plus this request)
                text = httpx.get(f"{url}/metrics").text
                if _metric(text, "genziqa_http_requests_in_flight") >= 4:
                    break
                time.sleep(0.02)
            else:
                raise AssertionError("the requests never were in flight together")
            proc.send_signal(signal.SIGTERM)
            responses = [future.result() for future in futures]
        _, errors = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, errors
    for response in responses:
        assert response.status_code == 200, (response.text, errors)
        assert [row["status"] for row in response.json()["results"]] == ["ok"] * 2
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)
    assert "Traceback" not in errors


def test_an_unknown_model_exits_2_with_one_line(tmp_path) -> None:
    proc = _serve("--model", str(tmp_path / "no-such-model"), "--port", str(free_port()), "-q")
    _, errors = proc.communicate(timeout=180)
    assert proc.returncode == 2, errors
    lines = [line for line in errors.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "no-such-model" in lines[-1]
    assert "Traceback" not in errors


def test_a_taken_port_exits_2_before_loading() -> None:
    with socket_on_port() as port:
        proc = _serve("--model", "genziqa-tiny", "--port", str(port))
        _, errors = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in errors


class socket_on_port:
    """A port held by a listening socket for the duration of the block."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_missing_extra_is_a_one_line_usage_error(monkeypatch, capsys) -> None:
    from genziqa.cli import main
    from genziqa.serve import command

    monkeypatch.setattr(command, "missing_serve_packages", lambda: ["fastapi", "uvicorn"])
    assert main(["serve"]) == 2
    message = capsys.readouterr().err
    assert "pip install 'genziqa[serve]'" in message and "fastapi, uvicorn" in message


def test_bad_flags_are_usage_errors(capsys) -> None:
    from genziqa.cli import main

    assert main(["serve", "--cors-origin", "*"]) == 2
    assert "one by one" in capsys.readouterr().err
    assert main(["serve", "--max-files", "100", "--max-queue", "10"]) == 2
    assert "could never be admitted" in capsys.readouterr().err
    assert main(["serve", "--log-level", "loud"]) == 2


def test_the_cli_and_the_serve_command_import_no_fastapi() -> None:
    code = (
        "import sys, genziqa, genziqa.cli, genziqa.serve.command\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'uvicorn', 'starlette', 'prometheus_client', 'multipart')]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
