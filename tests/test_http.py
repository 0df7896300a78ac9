"""The HTTP client against a real server on 127.0.0.1: headers and key, Retry-After,
RateLimit-Remaining, retries with backoff, and the one-line errors of the response
table in policy.py."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest
import requests

from tap_klaviyo.errors import KlaviyoAPIError, KlaviyoError, ThrottledTooLong
from tap_klaviyo.settings import Settings
from tap_klaviyo.transport.http import JSON_API, Endpoint, HttpClient, retry_after_seconds
from tap_klaviyo.transport.policy import RESPONSE_RULES, RETRY, Outcome, rule_for
from tap_klaviyo.transport.ratelimit import RateLimiter

KEY = "pk_loopback_secret_0123456789abcdef"
EMPTY_PAGE = b'{"data": [], "links": {"next": null}}'


def errors_body(detail: str, parameter: str | None = None) -> bytes:
    error: dict[str, Any] = {"detail": detail}
    if parameter:
        error["source"] = {"parameter": parameter}
    return json.dumps({"errors": [error]}).encode()


@dataclass
class Answer:
    status: int = 200
    body: bytes = EMPTY_PAGE
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Loopback:
    """A real HTTP server answering each request with the next scripted answer."""

    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.seen: list[Seen] = []
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                loopback.seen.append(Seen(self.command, self.path, headers, body))
                # A script that runs out answers 418, which no test expects.
                answer = loopback.answers.popleft() if loopback.answers else Answer(418)
                self.send_response(answer.status)
                self.send_header("Content-Type", JSON_API)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = answer
            do_POST = answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def script(self, *answers: Answer) -> None:
        self.answers.extend(answers)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


class FakeClock:
    """The limiter's clock: sleeping moves it on at once, and each sleep is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def endpoint(clock: FakeClock, scopes: tuple[str, ...] = ("tags:read",)) -> Endpoint:
    return Endpoint(RateLimiter(None, None, clock=clock, sleep=clock.sleep), scopes)


def client(url: str, **settings: Any) -> HttpClient:
    return HttpClient(
        "tags", Settings(api_key=KEY, api_url=url, **settings), logging.getLogger("tap-test")
    )


@dataclass
class Request:
    """What HttpClient.prepare reads of the SDK's HTTPRequest."""

    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    data: Any = None

    def encode_params(self) -> Any:
        return self.params


def get(http: HttpClient, url: str) -> requests.PreparedRequest:
    return http.prepare(
        Request("GET", f"{url}/api/tags", http.headers(), params={"page[size]": 50})
    )


def send(loopback: Loopback, clock: FakeClock, **settings: Any) -> requests.Response:
    http = client(loopback.url, **settings)
    return http.send(get(http, loopback.url), endpoint(clock))


# ---- the response table --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome", "says"),
    [
        (200, Outcome.OK, ""),
        (301, Outcome.OK, ""),
        (400, Outcome.FAIL, "Klaviyo rejected GET /api/x for stream 's' (400): why"),
        (401, Outcome.FAIL, "Klaviyo rejected the API key (401) on GET /api/x for stream 's'"),
        (403, Outcome.FAIL, "Stream 's' needs the API key scope(s) a:read"),
        (404, Outcome.FAIL, "Klaviyo rejected GET /api/x for stream 's' (404): why"),
        (429, Outcome.THROTTLED, ""),
        (500, Outcome.RETRY, "GET /api/x answered 500: why"),
        (503, Outcome.RETRY, "GET /api/x answered 503: why"),
    ],
)
def test_rule_for_each_status(status: int, outcome: Outcome, says: str) -> None:
    rule = rule_for(status)
    assert rule.outcome is outcome
    message = rule.message.format(
        endpoint="GET /api/x", stream="s", status=status, detail="why", scopes="a:read"
    )
    assert message.startswith(says)


def test_a_status_outside_every_range_fails() -> None:
    assert rule_for(600) is RESPONSE_RULES[-1]
    assert rule_for(600).outcome is Outcome.FAIL


# ---- retry_after_seconds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        # Klaviyo sends seconds; anything else waits one second and asks again.
        ("soon", 1.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0),
        (None, 1.0),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float) -> None:
    response = requests.Response()
    if header is not None:
        response.headers["Retry-After"] = header
    assert retry_after_seconds(response) == seconds


# ---- requests as sent ---------------------------------------------------------------------


def test_a_request_carries_the_key_revision_and_json_api_headers(
    loopback: Loopback, clock: FakeClock
) -> None:
    loopback.script(Answer())
    response = send(loopback, clock)
    assert response.status_code == 200
    [seen] = loopback.seen
    assert seen.method == "GET"
    assert seen.path == "/api/tags?page%5Bsize%5D=50"
    assert seen.headers["authorization"] == f"Klaviyo-API-Key {KEY}"
    assert seen.headers["revision"] == Settings().revision
    assert seen.headers["accept"] == JSON_API
    assert "content-type" not in seen.headers


def test_a_post_sends_its_document_as_json_api(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer())
    http = client(loopback.url)
    document = {"data": {"type": "campaign-values-report", "attributes": {"n": 2**70}}}
    prepared = http.prepare(
        Request("POST", f"{loopback.url}/api/campaign-values-reports", http.headers(body=True), {})
    )
    assert prepared.body is None
    prepared = http.prepare(
        Request(
            "POST",
            f"{loopback.url}/api/campaign-values-reports",
            http.headers(body=True),
            data=document,
        )
    )
    http.send(prepared, endpoint(clock))
    [seen] = loopback.seen
    assert seen.headers["content-type"] == JSON_API
    assert msgspec.json.decode(seen.body) == document


# ---- 429 -------------------------------------------------------------------------------


def test_429_waits_retry_after_then_sends_again(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(429, errors_body("Throttled."), {"Retry-After": "7"}), Answer())
    assert send(loopback, clock).status_code == 200
    assert len(loopback.seen) == 2
    assert clock.sleeps == [7.0]


def test_429_as_long_as_the_limit_is_waited_out(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(429, headers={"Retry-After": "10"}), Answer())
    assert send(loopback, clock, max_retry_after_seconds=10).status_code == 200
    assert clock.sleeps == [10.0]


def test_429_longer_than_the_limit_stops_at_once(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(429, errors_body("Throttled."), {"Retry-After": "7200"}))
    with pytest.raises(ThrottledTooLong) as caught:
        send(loopback, clock)
    assert str(caught.value) == (
        "Stream 'tags': Klaviyo throttled GET /api/tags for 7200s, longer than "
        "max_retry_after_seconds=600; the run stops here and resumes from its last state."
    )
    assert caught.value.wait == 7200
    assert len(loopback.seen) == 1 and clock.sleeps == []


def test_429s_in_a_row_give_up(
    loopback: Loopback, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RETRY, "max_consecutive_429", 3)
    loopback.script(*[Answer(429, headers={"Retry-After": "2"})] * 3)
    with pytest.raises(KlaviyoError) as caught:
        send(loopback, clock)
    assert str(caught.value) == (
        "Stream 'tags': GET /api/tags was throttled 3 times in a row; another integration "
        "may be using this account's quota."
    )
    assert len(loopback.seen) == 3


def test_no_quota_left_holds_the_next_request_until_the_reset(
    loopback: Loopback, clock: FakeClock
) -> None:
    http = client(loopback.url)
    limits = endpoint(clock)
    loopback.script(
        Answer(headers={"RateLimit-Remaining": "3", "RateLimit-Reset": "40"}),
        Answer(headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "5"}),
        Answer(),
    )
    for _ in range(3):
        http.send(get(http, loopback.url), limits)
    assert clock.sleeps == [5.0]


# ---- retries -----------------------------------------------------------------------------


@pytest.mark.usefixtures("fast_retries")
def test_a_503_is_retried(
    loopback: Loopback, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.script(Answer(503, errors_body("Try again later.")), Answer())
    with caplog.at_level(logging.WARNING):
        assert send(loopback, clock).status_code == 200
    assert len(loopback.seen) == 2
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("Stream 'tags': retrying in ")
    assert warning.endswith("s after try 1: GET /api/tags answered 503: Try again later.")


@pytest.mark.usefixtures("fast_retries")
def test_503s_are_retried_max_tries_times_then_given_up(
    loopback: Loopback, clock: FakeClock
) -> None:
    assert RETRY.max_tries == 3  # set by fast_retries
    loopback.script(*[Answer(503, errors_body("Try again later."))] * 3, Answer())
    with pytest.raises(KlaviyoError) as caught:
        send(loopback, clock)
    assert str(caught.value) == (
        "Stream 'tags' gave up on GET /api/tags after 3 tries: "
        "GET /api/tags answered 503: Try again later."
    )
    assert len(loopback.seen) == 3


@pytest.mark.usefixtures("fast_retries")
def test_a_200_with_a_broken_body_is_retried(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(200, b'{"data": [{"id": "t1"'), Answer())
    assert send(loopback, clock).content == EMPTY_PAGE
    assert len(loopback.seen) == 2


@pytest.mark.usefixtures("fast_retries")
def test_a_refused_connection_is_retried_then_given_up(clock: FakeClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(KlaviyoError) as caught:
        http = client(closed)
        http.send(get(http, closed), endpoint(clock))
    assert str(caught.value) == (
        "Stream 'tags' gave up on GET /api/tags after 3 tries: GET /api/tags: ConnectionError"
    )


# ---- failures the user must act on --------------------------------------------------------


def test_401_asks_to_check_the_key(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(401, errors_body("Incorrect authentication credentials.")))
    with pytest.raises(KlaviyoAPIError) as caught:
        send(loopback, clock)
    assert str(caught.value) == (
        "Klaviyo rejected the API key (401) on GET /api/tags for stream 'tags': Incorrect "
        "authentication credentials. Check the `api_key` setting."
    )
    assert caught.value.status == 401 and len(loopback.seen) == 1


def test_403_names_the_scopes_the_stream_needs(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(403, errors_body("You do not have permission.")))
    http = client(loopback.url)
    with pytest.raises(KlaviyoAPIError) as caught:
        http.send(get(http, loopback.url), endpoint(clock, ("tags:read", "lists:read")))
    assert str(caught.value) == (
        "Stream 'tags' needs the API key scope(s) tags:read, lists:read: Klaviyo answered 403 "
        "on GET /api/tags (You do not have permission.). Add the scope to the key, deselect "
        "the stream, or set ignore_forbidden_streams."
    )
    assert caught.value.status == 403 and len(loopback.seen) == 1


def test_400_keeps_the_parameters_klaviyo_blamed(loopback: Loopback, clock: FakeClock) -> None:
    loopback.script(Answer(400, errors_body("Invalid cursor.", "page[cursor]")))
    with pytest.raises(KlaviyoAPIError) as caught:
        send(loopback, clock)
    assert str(caught.value) == (
        "Klaviyo rejected GET /api/tags for stream 'tags' (400): "
        "Invalid cursor. (parameter: page[cursor])"
    )
    assert caught.value.parameters == {"page[cursor]"}
    assert len(loopback.seen) == 1


FAILURES = {
    "401": [Answer(401, errors_body("Incorrect authentication credentials."))],
    "403": [Answer(403, errors_body("You do not have permission."))],
    "400": [Answer(400, errors_body("Invalid filter.", "filter"))],
    "503": [Answer(503, errors_body("Try again later."))] * 3,
    "429": [Answer(429, headers={"Retry-After": "86400"})],
}


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_the_key_never_appears_in_an_error(
    loopback: Loopback, clock: FakeClock, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    loopback.script(*FAILURES[failure])
    with caplog.at_level(logging.DEBUG), pytest.raises(KlaviyoError) as caught:
        send(loopback, clock)
    # The key went out (so it could have leaked) ...
    assert all(KEY in seen.headers["authorization"] for seen in loopback.seen)
    # ... and no message or log line repeats it.
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert KEY not in caplog.text


def test_proxies_from_the_environment_are_used_for_every_request(
    loopback: Loopback, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback plays an HTTP proxy: it is asked for the absolute URL.
    monkeypatch.setenv("HTTP_PROXY", loopback.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    http = client("http://klaviyo.invalid")
    loopback.script(Answer(200, b'{"data": []}'), Answer(200, b'{"data": []}'))
    for _ in range(2):
        assert http.send(get(http, "http://klaviyo.invalid"), endpoint(clock)).status_code == 200
    assert [seen.path for seen in loopback.seen] == [
        "http://klaviyo.invalid/api/tags?page%5Bsize%5D=50"
    ] * 2


@pytest.mark.usefixtures("fast_retries")
def test_no_proxy_sends_that_host_direct(
    loopback: Loopback, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    loopback.script(Answer(200, b'{"data": []}'))
    assert send(loopback, clock).status_code == 200
    assert [seen.path for seen in loopback.seen] == ["/api/tags?page%5Bsize%5D=50"]


@pytest.fixture
def tls_server(tmp_path: Any) -> Iterator[tuple[str, str]]:
    """An HTTPS server on loopback whose certificate no system store trusts; yields its
    URL and the certificate's path (the CA bundle a user would point at)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"data": []}'
            self.send_response(200)
            self.send_header("Content-Type", JSON_API)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", str(cert)
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("fast_retries")
def test_a_ca_bundle_from_the_environment_is_trusted(
    tls_server: tuple[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, bundle = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    # Without it, the company's certificate is refused ...
    http = client(url)
    with pytest.raises(KlaviyoError, match=r"gave up on GET /api/tags after 3 tries: .*SSLError"):
        http.send(get(http, url), endpoint(clock))
    # ... with it, as requests.get would, the tap trusts it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    http = client(url)
    assert http.send(get(http, url), endpoint(clock)).content == b'{"data": []}'
