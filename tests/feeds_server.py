"""A loopback test site for the feed tests: feeds and post files from the real posts, plus each fault."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SINA = ["金融", "新浪财经", "新浪财经－国內"]
KR36 = ["新媒体", "36kr", "资讯"]
ZHIHU_POST = "CPU 为什么很少会坏？.md"
SINA_POST = "100万吨国家钾肥储备投放保春耕.md"


@dataclass
class Doc:
    """One served document with validators; a matching conditional request gets 304."""

    body: bytes
    content_type: str
    etag: str
    last_modified: str = "Mon, 01 Aug 2022 00:00:00 GMT"
    requests: list[dict[str, str | None]] = field(default_factory=list)

    def respond(self, request: Request) -> Response:
        self.requests.append({"if_none_match": request.headers.get("If-None-Match"),
                              "if_modified_since": request.headers.get("If-Modified-Since"),
                              "user_agent": request.headers.get("User-Agent")})
        if request.headers.get("If-None-Match") == self.etag:
            return Response(status=304, headers={"ETag": self.etag})
        return Response(self.body, status=200, content_type=self.content_type,
                        headers={"ETag": self.etag, "Last-Modified": self.last_modified})


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FeedSite:
    """Serves the fixture feeds (UTF-8 RSS, GBK RSS, Atom), post files, a URL list, and broken URLs."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        zhihu = (FIXTURES / "posts" / ZHIHU_POST).read_text(encoding="utf-8")
        self.docs = {
            "/feeds/sina.xml": Doc((FIXTURES / "sina.rss.xml").read_bytes(), "application/rss+xml", '"sina-1"'),
            "/feeds/sina-gbk.xml": Doc((FIXTURES / "sina_gbk.rss.xml").read_bytes(),
                                       "application/rss+xml; charset=GBK", '"gbk-1"'),
            "/feeds/36kr.atom": Doc((FIXTURES / "36kr.atom.xml").read_bytes(), "application/atom+xml", '"36kr-1"'),
            "/posts/zhihu.md": Doc(zhihu.encode("gb18030"), "text/markdown; charset=gb18030", '"zhihu-1"'),
            "/posts/sina.md": Doc((FIXTURES / "posts" / SINA_POST).read_bytes(), "text/plain", '"sina-post-1"'),
        }
        for path, doc in self.docs.items():
            server.expect_request(path).respond_with_handler(doc.respond)
        server.expect_request("/posts/list.txt").respond_with_data(
            f"# posts to fetch\n{self.url('/posts/zhihu.md')}\n\n{self.url('/posts/sina.md')}\n",
            content_type="text/plain; charset=utf-8")
        server.expect_request("/feeds/missing.xml").respond_with_data("gone", status=404)
        server.expect_request("/feeds/broken.xml").respond_with_data(
            (FIXTURES / "sina.rss.xml").read_bytes()[:4000], content_type="application/rss+xml")
        server.expect_request("/feeds/page.html").respond_with_data(
            "<!DOCTYPE html><html><head><title>新浪财经</title></head><body><p>首页</p></body></html>",
            content_type="text/html; charset=utf-8")
        self.dead_port = closed_port()
        self.dead_url = f"http://127.0.0.1:{self.dead_port}/feeds/sina.xml"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"  # never "localhost": tests contact 127.0.0.1 only

    def allow_hosts(self) -> list[str]:
        """`allow_hosts` for this site: the server's port and the dead URL's port on 127.0.0.1, nothing else."""
        return [f"127.0.0.1:{self.server.port}", f"127.0.0.1:{self.dead_port}"]

    def sources(self) -> list[dict]:
        return [
            {"type": "feed", "name": "sina", "categories": SINA,
             "urls": [self.url("/feeds/sina.xml"), self.url("/feeds/sina-gbk.xml")]},
            {"type": "feed", "name": "36kr", "categories": KR36, "urls": [self.url("/feeds/36kr.atom")]},
            {"type": "post_urls", "name": "posts", "list_url": self.url("/posts/list.txt"),
             "timezone": "Asia/Shanghai"},
            {"type": "feed", "name": "broken", "urls": [
                self.url("/feeds/missing.xml"), self.dead_url, self.url("/feeds/broken.xml"),
                self.url("/feeds/page.html")]},
        ]


def github_link(category_path: list[str], file_name: str) -> str:
    base = "https://github.com/Rock-Candy-Tea/RSSHUB-PAGE/blob/HEAD/source/_posts/"
    return base + quote("/".join(category_path) + "/" + file_name)
