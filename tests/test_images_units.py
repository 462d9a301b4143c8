"""Images: the parts that need no server: URL keys, the address policy, sniffing, config, headers."""

from __future__ import annotations

import base64
import ipaddress
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from newsetl.config import config_from_dict
from newsetl.errors import ConfigError
from newsetl.http.guard import AddressPolicy
from newsetl.images.urls import decode_data_uri, normalize
from newsetl.images.verify import NotAnImage, inspect, sniff, thumbnail
from newsetl.http.client import parse_retry_after, retry_delay


# -- URL keys ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "article", "key", "kind"),
    [
        ("https://N.SinaImg.cn/a/b.png", None, "https://n.sinaimg.cn/a/b.png", "http"),
        ("  https://x.com/a.png#frag ", None, "https://x.com/a.png", "http"),
        ("//n.sinaimg.cn/a.jpg", "http://finance.sina.com.cn/x.html", "http://n.sinaimg.cn/a.jpg", "http"),
        ("//n.sinaimg.cn/a.jpg", "https://finance.sina.com.cn/x.html", "https://n.sinaimg.cn/a.jpg", "http"),
        ("//n.sinaimg.cn/a.jpg", None, "https://n.sinaimg.cn/a.jpg", "http"),
        ("//n.sinaimg.cn/a.jpg", "ftp://mirror/x", "https://n.sinaimg.cn/a.jpg", "http"),
        ("/img/a.png", "https://site.example/post/1.html", "https://site.example/img/a.png", "http"),
        ("a.png", "https://site.example/post/1.html", "https://site.example/post/a.png", "http"),
        ("https://x.com?id=1", None, "https://x.com/?id=1", "http"),
        ("a.png", None, "a.png", "invalid"),
        ("ftp://x.com/a.png", None, "ftp://x.com/a.png", "invalid"),
        ("javascript:alert(1)", None, "javascript:alert(1)", "invalid"),
        ("http:///nohost.png", None, "http:///nohost.png", "invalid"),
        ("http://x.com:99999/a.png", None, "http://x.com:99999/a.png", "invalid"),
        ("", None, "", "invalid"),
    ],
)
def test_normalize(raw, article, key, kind):
    target = normalize(raw, article)
    assert (target.key, target.kind) == (key, kind)


def test_invalid_targets_say_why():
    assert normalize("ftp://x.com/a.png").error == "unsupported scheme 'ftp'"
    assert normalize("a.png").error == "relative URL without an article URL to resolve it"
    assert normalize("http:///x").error == "URL has no host"


def test_data_uri_key_and_payload():
    payload = b"\x89PNG\r\n\x1a\nrest"
    uri = "data:image/png;base64," + base64.b64encode(payload).decode()
    target = normalize(uri)
    assert target.kind == "data" and target.host == "(data)"
    assert target.key.startswith("data:image/png;sha256=") and len(target.key) == len("data:image/png;sha256=") + 64
    assert normalize(uri).key == target.key  # stable
    assert decode_data_uri(uri) == payload
    # Line breaks inside base64 and missing padding are tolerated; percent-encoded data works too.
    wrapped = "data:image/png;base64," + base64.b64encode(payload).decode().rstrip("=")[:8] + "\n" + \
        base64.b64encode(payload).decode().rstrip("=")[8:]
    assert decode_data_uri(wrapped) == payload
    assert decode_data_uri("data:image/svg+xml,%3Csvg%3E") == b"<svg>"
    with pytest.raises(ValueError, match="bad base64"):
        decode_data_uri("data:image/png;base64,@@@@")
    assert normalize("data:image/png;base64").error == "malformed data: URI (no comma)"


# -- address policy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("0.0.0.0", "private"), ("240.0.0.1", "private"), ("224.0.0.1", "multicast"),
        ("100.64.0.1", "not a public address"),
        ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"),
        ("93.184.216.34", None), ("2606:4700:4700::1111", None),
    ],
)
def test_default_policy_refuses_non_public_addresses(address, why):
    assert AddressPolicy().refusal("example.test", ipaddress.ip_address(address)) == why


def test_allow_list_by_address_network_or_host_name():
    policy = AddressPolicy(allow=["127.0.0.1", "10.0.0.0/8", "Intranet.Local"])
    assert policy.refusal("a", ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal("a", ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert policy.refusal("a", ipaddress.ip_address("10.200.1.1")) is None
    assert policy.refusal("intranet.local", ipaddress.ip_address("192.168.5.5")) is None
    assert policy.refusal("other.local", ipaddress.ip_address("192.168.5.5")) == "private"
    assert AddressPolicy(block_private=False).refusal("a", ipaddress.ip_address("10.0.0.1")) is None


# -- sniffing ---------------------------------------------------------------------------------------------

def test_sniff_uses_bytes_not_names(pics):
    assert sniff(pics["badge.png"]) == "PNG"
    assert sniff(pics["skyline.jpg"]) == "JPEG"
    assert sniff(pics["spinner.gif"]) == "GIF"
    assert sniff(pics["slides.webp"]) == "WEBP"
    assert sniff(b"<html>") is None


@pytest.mark.parametrize(
    ("data", "reason", "message"),
    [
        (b"", "empty", "empty body"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html></html>", "not_image", "HTML page, not an image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported", "SVG is not supported"),
        (b'{"error": "not found"}', "not_image", "JSON document, not an image"),
        (b"GIF89a\x01\x00\x01\x00", "truncated", "truncated GIF image: no trailer"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated", "truncated PNG image: no IEND chunk"),
    ],
)
def test_what_is_not_an_image(data, reason, message):
    with pytest.raises(NotAnImage) as caught:
        inspect(data)
    assert (caught.value.reason, str(caught.value)) == (reason, message)


def test_truncated_images_of_every_format_are_rejected(pics):
    for name, data in pics.items():
        with pytest.raises(NotAnImage) as caught:
            inspect(data[: len(data) - 3])
        assert caught.value.reason == "truncated", name


def test_pixel_limit(pics):
    with pytest.raises(NotAnImage, match="200x200 pixels exceeds max_pixels 1000"):
        inspect(pics["badge.png"], max_pixels=1000)


def test_thumbnail_keeps_aspect_and_alpha(pics):
    blob, ext, width, height = thumbnail(pics["skyline.jpg"], (100, 100))
    assert (ext, width, height) == ("jpg", 100, 56) and sniff(blob) == "JPEG"
    blob, ext, width, height = thumbnail(pics["badge.png"], (50, 50))
    assert (ext, width, height) == ("png", 50, 50) and inspect(blob).mode == "RGBA"


# -- headers and config -----------------------------------------------------------------------------------

def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(later) <= 31
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_retry_delay_backs_off_with_jitter_and_honours_retry_after():
    limits = {"backoff": 0.5, "backoff_max": 30.0, "retry_after_max": 120.0}
    for tries, low, high in ((1, 0.25, 0.75), (2, 0.5, 1.5), (3, 1.0, 3.0), (10, 15.0, 30.0)):
        delays = [retry_delay(tries, None, **limits) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high
        assert max(delays) - min(delays) > (high - low) / 4  # jittered, not a fixed delay
    assert retry_delay(1, 42.0, **limits) == 42.0           # the server's Retry-After wins
    assert retry_delay(1, 121.0, **limits) is None          # longer than we wait: give up for this run


def test_images_config_defaults_and_errors(tmp_path: Path):
    images = config_from_dict({}, base_dir=tmp_path).images
    assert (images.concurrency, images.per_host, images.max_redirects, images.retries) == (64, 16, 5, 3)
    assert images.revalidate_after == 30 * 86400 and images.block_private and images.allow_hosts == []
    parsed = config_from_dict({"images": {"revalidate_after": "12h", "thumbnails": {"small": [64, 48]}}},
                              base_dir=tmp_path).images
    assert parsed.revalidate_after == 43200 and parsed.thumbnails == {"small": (64, 48)}
    cases = {
        "images.concurrncy: unknown key": {"concurrncy": 3},
        "images.revalidate_after: not a duration: 'soon'": {"revalidate_after": "soon"},
        "images.per_host: Input should be greater than or equal to 1": {"per_host": 0},
        "images.thumbnails: thumbnail name 'Big One'": {"thumbnails": {"Big One": [10, 10]}},
        "images.allow_hosts: allow_hosts: bad network '10.0.0.0/99'": {"allow_hosts": ["10.0.0.0/99"]},
    }
    for message, images_section in cases.items():
        with pytest.raises(ConfigError) as caught:
            config_from_dict({"images": images_section}, base_dir=tmp_path)
        assert str(caught.value).startswith(f"config: {message}"), str(caught.value)


def test_guard_resolves_each_host_once_and_remembers_failures():
    import asyncio

    import httpcore

    from newsetl.http.guard import GuardedBackend

    backend = GuardedBackend(AddressPolicy())
    calls: list[str] = []

    async def lookup(host, port, timeout):
        calls.append(host)
        await asyncio.sleep(0.01)
        if host == "gone.example":
            raise httpcore.ConnectError("DNS lookup of gone.example failed: Name or service not known")
        return [ipaddress.ip_address("93.184.216.34")]

    backend._lookup = lookup

    async def main():
        answers = await asyncio.gather(
            *(backend._resolve(h, 443, 1) for h in ["img.example"] * 10 + ["gone.example"] * 5 + ["IMG.example"]),
            return_exceptions=True,
        )
        again = await asyncio.gather(backend._resolve("gone.example", 80, 1), return_exceptions=True)
        return answers + again

    answers = asyncio.run(main())
    assert sorted(calls) == ["gone.example", "img.example"]
    assert all(a == [ipaddress.ip_address("93.184.216.34")] for a in answers[:10] + answers[15:16])
    assert all(isinstance(a, httpcore.ConnectError) and "Name or service not known" in str(a)
               for a in answers[10:15] + answers[16:])
