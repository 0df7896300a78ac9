"""One HTTP client for every request the tap sends to Klaviyo: sessions, headers and
the key, the rate limiter, Retry-After, RateLimit-Remaining, retries with backoff and
one-line errors (the table in ``policy.py``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import backoff
import msgspec
import requests

from tap_klaviyo.errors import (
    KlaviyoAPIError,
    KlaviyoError,
    ThrottledTooLong,
    TransientKlaviyoError,
)
from tap_klaviyo.settings import Settings
from tap_klaviyo.stopping import NEVER, RunStopped, Stop
from tap_klaviyo.transport.jsonapi import error_detail, next_link
from tap_klaviyo.transport.policy import RETRY, Outcome, rule_for
from tap_klaviyo.transport.ratelimit import RateLimiter

JSON_API = "application/vnd.api+json"
_TRANSPORT_ERRORS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RequestLike(Protocol):
    """The SDK's HTTPRequest, as far as this client reads it."""

    method: str
    url: str
    headers: dict[str, str]
    data: Any

    def encode_params(self) -> Any: ...


@dataclass(frozen=True)
class Endpoint:
    """What sending to one operation needs besides the request: its quota and the
    scopes a 403 names."""

    limiter: RateLimiter
    scopes: tuple[str, ...]


def retry_after_seconds(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class Traffic:
    """What one client sent: requests (every try) and 429s among them, for the run's
    progress lines and summary (progress.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.throttled = 0

    def count(self, *, throttled: bool) -> None:
        with self._lock:
            self.requests += 1
            self.throttled += throttled


class HttpClient:
    """Sends one stream's requests; safe on any thread (one session per thread)."""

    def __init__(
        self, stream: str, settings: Settings, logger: logging.Logger, stop: Stop = NEVER
    ) -> None:
        self.stream = stream
        self.settings = settings
        self.logger = logger
        self.stop = stop
        self.traffic = Traffic()
        self._sessions = threading.local()
        # What the environment says for each scheme and host (HTTPS_PROXY, NO_PROXY,
        # REQUESTS_CA_BUNDLE, ...), read once: requests reads it per request only in
        # Session.request, and then all of it again every time.
        self._environment: dict[str, dict[str, Any]] = {}

    def headers(self, *, body: bool = False) -> dict[str, str]:
        headers = {
            "Accept": JSON_API,
            "revision": self.settings.revision,
            "User-Agent": "tap-klaviyo",
        }
        if body:
            headers["Content-Type"] = JSON_API
        return headers

    def authenticate(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Klaviyo-API-Key {self.settings.api_key}"
        return request

    @property
    def session(self) -> requests.Session:
        """requests.Session is not thread-safe."""
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def _environment_for(self, prepared: requests.PreparedRequest) -> dict[str, Any]:
        """``Session.send``'s proxies and verify, as ``Session.request`` would take them
        from the environment (a corporate proxy, a company CA bundle)."""
        parts = urlsplit(prepared.url)
        where = f"{parts.scheme}://{parts.netloc}"
        found = self._environment.get(where)
        if found is None:
            merged = self.session.merge_environment_settings(prepared.url, {}, None, None, None)
            found = self._environment[where] = {
                "proxies": merged["proxies"],
                "verify": merged["verify"],
            }
        return found

    @staticmethod
    def prepare(request: RequestLike) -> requests.PreparedRequest:
        return requests.Request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            # JSON:API request documents (the reporting POSTs); GETs carry no body.
            data=msgspec.json.encode(request.data) if request.data is not None else None,
        ).prepare()

    def send(self, prepared: requests.PreparedRequest, endpoint: Endpoint) -> requests.Response:
        """One request with Klaviyo's retry rules: exact Retry-After, exponential backoff
        with full jitter otherwise. Every wait ends early once the run is stopping."""
        where = f"{prepared.method} {urlsplit(prepared.url).path}"
        waits = backoff.expo(
            factor=RETRY.backoff_factor_seconds, max_value=RETRY.max_backoff_seconds
        )
        next(waits)  # backoff's generators start with a bare yield
        tries = 0
        while True:
            tries += 1
            self.stop.check()
            try:
                return self._send_once(prepared, where, endpoint)
            except TransientKlaviyoError as error:
                if tries >= RETRY.max_tries:
                    raise KlaviyoError(
                        f"Stream '{self.stream}' gave up on {where} after {tries} tries: {error}"
                    ) from None
                wait = backoff.full_jitter(next(waits))
                self.logger.warning(
                    "Stream '%s': retrying in %.1fs after try %d: %s",
                    self.stream,
                    wait,
                    tries,
                    error,
                )
                if self.stop.wait(wait):
                    raise RunStopped(self.stop.reason) from None

    def _send_once(
        self, prepared: requests.PreparedRequest, where: str, endpoint: Endpoint
    ) -> requests.Response:
        limiter = endpoint.limiter
        max_wait = float(self.settings.max_retry_after_seconds)
        for _ in range(RETRY.max_consecutive_429):
            limiter.acquire(self.stop)
            try:
                response = self.session.send(
                    self.authenticate(prepared.copy()),
                    timeout=RETRY.timeout_seconds,
                    stream=True,
                    **self._environment_for(prepared),
                )
                response._content = b"".join(response.iter_content(RETRY.body_chunk_bytes))
                response.close()  # hands the connection back to the pool
            except _TRANSPORT_ERRORS as exc:
                self.traffic.count(throttled=False)
                raise TransientKlaviyoError(f"{where}: {type(exc).__name__}") from None
            finally:
                # Answered or failed, the request is over: its slot counts from now.
                limiter.release()
            throttled = rule_for(response.status_code).outcome is Outcome.THROTTLED
            self.traffic.count(throttled=throttled)
            if not throttled:
                self._check(response, where, endpoint)
                self._respect_remaining_quota(response, limiter)
                return response
            wait = retry_after_seconds(response)
            if wait > max_wait:
                raise ThrottledTooLong(self.stream, where, wait, max_wait)
            self.logger.info(
                "Stream '%s': throttled on %s, waiting Retry-After %.0fs", self.stream, where, wait
            )
            limiter.block_for(wait)
        raise KlaviyoError(
            f"Stream '{self.stream}': {where} was throttled {RETRY.max_consecutive_429} times "
            "in a row; another integration may be using this account's quota."
        )

    @staticmethod
    def _respect_remaining_quota(response: requests.Response, limiter: RateLimiter) -> None:
        """Another integration on the account may spend the same quota: when Klaviyo
        says none is left, wait for the window to reset instead of earning a 429."""
        remaining = response.headers.get("RateLimit-Remaining")
        reset = response.headers.get("RateLimit-Reset")
        try:
            if remaining is not None and int(remaining) <= 0 and reset is not None:
                limiter.block_for(float(reset))
        except ValueError:
            return

    def _check(self, response: requests.Response, where: str, endpoint: Endpoint) -> None:
        status = response.status_code
        rule = rule_for(status)
        if rule.outcome is Outcome.OK:
            try:
                next_link(response)
            except ValueError as exc:
                raise TransientKlaviyoError(f"{where} sent an unreadable body: {exc}") from None
            return
        detail, parameters = error_detail(response)
        message = rule.message.format(
            endpoint=where,
            stream=self.stream,
            status=status,
            detail=detail,
            scopes=", ".join(endpoint.scopes) or "unknown",
        )
        if rule.outcome is Outcome.RETRY:
            raise TransientKlaviyoError(message)
        raise KlaviyoAPIError(message, status, parameters, detail)
