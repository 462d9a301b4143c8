"""SSRF allow-list entries name a port: two real servers on 127.0.0.1, one allowed, one not; every loopback
spelling reaches the allowed port and none reaches the other (nor Prefect's API); each refusal is recorded."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from newsetl.config import config_from_dict, parse_allow_entry
from newsetl.errors import ConfigError
from newsetl.feeds.fetch import Fetcher, FetchFailed, HttpPolicy
from newsetl.flows.ingest import ingest
from newsetl.http.guard import AddressPolicy
from tests.helpers import rows

ROOT = Path(__file__).resolve().parent.parent
PNG = (ROOT / "examples" / "images" / "badge.png").read_bytes()
SPELLINGS = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "localhost"]
RESOLVED = {"[::ffff:127.0.0.1]": "::ffff:7f00:1"}


def post(image_urls: list[str]) -> str:
    images = "".join(f'<p><img src="{url}" alt="图{i}"></p>' for i, url in enumerate(image_urls))
    return ("---\ntitle: 端口测试\ndate: 2024-05-01 09:30:00\ncategories: [示例]\n---\n"
            f"<div><p>只有允许的端口可以访问。</p>{images}</div>\n")


@pytest.fixture
def servers(httpserver: HTTPServer):
    """(allowed, other): both serve the same post and image; `other` must never see a request."""
    other = HTTPServer(host="127.0.0.1")
    other.start()
    try:
        yield httpserver, other
    finally:
        other.clear()
        other.stop()


def refused(host: str, port: int) -> str:
    address = RESOLVED.get(host, "127.0.0.1")
    return f"refused address {address} (loopback; allow_hosts does not list port {port}) for host {host.strip('[]')}"


def test_policy_checks_address_and_port() -> None:
    policy = AddressPolicy(allow=["127.0.0.1:8765", "10.0.0.0/8", "[::1]:8765", "intranet.example:443"])
    loopback, mapped = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::ffff:127.0.0.1")
    assert policy.refusal("127.1", loopback, 8765) is None
    assert policy.refusal("x", mapped, 8765) is None
    assert policy.refusal("127.1", loopback, 4200) == "loopback; allow_hosts does not list port 4200"
    assert policy.refusal("127.1", ipaddress.ip_address("127.0.0.2"), 8765) == "loopback"
    assert policy.refusal("a", ipaddress.ip_address("::1"), 8765) is None
    assert policy.refusal("a", ipaddress.ip_address("::1"), 80) == "loopback; allow_hosts does not list port 80"
    assert policy.refusal("a", ipaddress.ip_address("10.1.2.3"), 22) is None  # no port: every port
    assert policy.refusal("intranet.example", ipaddress.ip_address("192.168.1.1"), 443) is None
    assert policy.refusal("intranet.example", ipaddress.ip_address("192.168.1.1"), 80) == (
        "private; allow_hosts does not list port 80")
    assert policy.refusal("other.example", ipaddress.ip_address("192.168.1.1"), 443) == "private"


@pytest.mark.parametrize("entry, message", [
    ("127.0.0.1:0", "bad port in '127.0.0.1:0'"),
    ("127.0.0.1:99999", "bad port in '127.0.0.1:99999'"),
    ("[::1]:", "bad port in '[::1]:'"),
    ("[::1", "bad entry '[::1' (use [IPv6]:port)"),
    ("10.0.0.0/99", "bad network '10.0.0.0/99'"),
    ("127.1", "not an address, network or host name: '127.1'"),
    ("2130706433:80", "not an address, network or host name: '2130706433:80'"),
])
def test_bad_allow_entries_are_config_errors(tmp_path: Path, entry: str, message: str) -> None:
    for section in ("images", "http"):
        with pytest.raises(ConfigError) as caught:
            config_from_dict({section: {"allow_hosts": [entry]}}, base_dir=tmp_path)
        assert f"{section}.allow_hosts: " in str(caught.value) and message in str(caught.value), str(caught.value)
    assert parse_allow_entry(" 127.0.0.1:8765 ").port == 8765


def test_every_spelling_reaches_only_the_allowed_port(servers) -> None:
    allowed, other = servers
    for server in servers:
        server.expect_request("/ok").respond_with_data("ok")
    policy = HttpPolicy(allow_hosts=(f"127.0.0.1:{allowed.port}", f"[::1]:{allowed.port}"), retries=0)

    async def fetch_all() -> dict[str, str]:
        results = {}
        async with Fetcher(policy) as fetcher:
            for host in SPELLINGS + ["0177.0.0.1"]:
                for port in (allowed.port, other.port):
                    url = f"http://{host}:{port}/ok"
                    try:
                        results[url] = (await fetcher.get(url)).content.decode()
                    except FetchFailed as exc:
                        results[url] = exc.reason
        return results

    results = asyncio.run(fetch_all())
    for host in SPELLINGS:
        assert results[f"http://{host}:{allowed.port}/ok"] == "ok", host
        assert results[f"http://{host}:{other.port}/ok"] == refused(host, other.port)
    for port in (allowed.port, other.port):  # octal: not a URL httpx will request at all
        assert results[f"http://0177.0.0.1:{port}/ok"] == "bad URL: Invalid IPv4 address: '0177.0.0.1'"
    assert len(allowed.log) == len(SPELLINGS) and other.log == []


def test_refusals_are_recorded_by_the_flow(servers, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    allowed, other = servers
    api = PREFECT_API_URL.value()  # the session's real Prefect API on 127.0.0.1: must stay out of reach
    api_port = int(api.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    good_image = f"http://127.0.0.1:{allowed.port}/a.png"
    bad_images = [f"http://127.1:{other.port}/a.png", f"http://localhost:{other.port}/a.png",
                  f"http://127.0.0.1:{api_port}/api/health"]
    for server in servers:
        server.expect_request("/post.md").respond_with_data(post([good_image, *bad_images]),
                                                            content_type="text/markdown; charset=utf-8")
        server.expect_request("/a.png").respond_with_data(PNG, content_type="image/png")
    good = [f"http://{host}:{allowed.port}/post.md" for host in SPELLINGS]
    bad = [f"http://{host}:{other.port}/post.md" for host in SPELLINGS] + [f"{api}/health"]
    warehouse = tmp_path / "wh.duckdb"
    config = config_from_dict({
        "warehouse": str(warehouse), "reporting": {"enabled": False},
        "images": {"store": "images", "allow_hosts": [f"127.0.0.1:{allowed.port}", f"[::1]:{allowed.port}"],
                   "retries": 0},
        "http": {"retries": 0},  # the guard's settings come from the images section
        "sources": [{"type": "post_urls", "name": "ports", "urls": good + bad}],
    }, base_dir=tmp_path)

    summary = ingest(config)

    assert (summary["status"], summary["new"], summary["rejected"]) == ("partial", len(good), len(bad))
    assert sorted(r[0] for r in rows(warehouse, "SELECT url FROM articles")) == sorted(good)
    expected = {url: refused(url.split("//")[1].rsplit(":", 1)[0], other.port) for url in bad[:-1]}
    expected[bad[-1]] = refused("127.0.0.1", api_port)
    assert dict(rows(warehouse, "SELECT locator, error FROM rejects WHERE stage = 'fetch'")) == expected
    fetches = dict((url, (status, reason, error)) for url, status, reason, error in rows(
        warehouse, "SELECT url, status, reason, error FROM image_fetches"))
    assert fetches[good_image][:2] == ("ok", None)
    assert fetches[bad_images[0]] == ("skipped", "blocked", refused("127.1", other.port))
    assert fetches[bad_images[1]] == ("skipped", "blocked", refused("localhost", other.port))
    assert fetches[bad_images[2]] == ("skipped", "blocked", refused("127.0.0.1", api_port))
    assert other.log == []  # nothing ever reached the port that is not allowed
    assert [entry[0].path for entry in allowed.log].count("/a.png") == 1


def test_demo_allows_only_the_ports_it_serves(tmp_path: Path) -> None:
    from examples.demo import demo_config
    from newsetl.runtime.devserver import StaticServer

    with StaticServer(ROOT / "examples" / "feeds") as feeds:
        data = demo_config(tmp_path, ROOT / "examples", feeds)
        port = feeds.base_url.rsplit(":", 1)[1]
    assert data["images"]["allow_hosts"] == ["127.0.0.1:8765"]
    assert data["http"]["allow_hosts"] == [f"127.0.0.1:{port}"]
    config = config_from_dict(data, base_dir=tmp_path)
    assert [parse_allow_entry(e).port for e in config.images.allow_hosts + config.http.allow_hosts] == [
        8765, int(port)]
