"""The last word on `articles.body_html`: an explicit allow-list applied by nh3 (the ammonia sanitizer).

The cleaner already keeps only a few attributes; this pass is what makes the stored HTML safe to show,
whatever the rules or the cleaner let through: only the tags, attributes and URL schemes listed here
survive. Scripts, styles, `<svg>`, `<math>`, frames and forms go with their content; `on*` and `style`
attributes, `javascript:`/`vbscript:` URLs and `data:` URLs other than raster images in `<img src>` are
dropped. Text is never touched: paragraphs and `body_text` come from the cleaner, not from this HTML.
"""

from __future__ import annotations

import re

import nh3

TAGS = frozenset(
    "a abbr b blockquote br caption cite code col colgroup dd del div dl dt em figcaption figure footer h1 h2 h3 "
    "h4 h5 h6 header hr i img ins kbd li mark ol p pre q s samp small strong sub sup table tbody td tfoot th "
    "thead time tr u ul var".split()
)
# Removed together with everything inside them (the rest of the unknown tags are unwrapped, text kept).
DROP_WITH_CONTENT = frozenset(
    "script style svg math iframe frame frameset object embed applet template noscript textarea select "
    "button form head title".split()
)
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})  # data: only for raster images, see _attribute
RASTER_DATA_URL = re.compile(r"data:image/(png|jpe?g|gif|webp|avif|bmp);", re.IGNORECASE)

_cleaner: nh3.Cleaner | None = None


def _attribute(tag: str, name: str, value: str) -> str | None:
    """Keep a `data:` URL only as a raster image's `src` (an SVG or HTML data URL can carry script)."""
    if value.lstrip()[:5].lower() == "data:" and not (tag == "img" and name == "src"
                                                       and RASTER_DATA_URL.match(value.lstrip())):
        return None
    return value


def _get_cleaner() -> nh3.Cleaner:
    global _cleaner
    if _cleaner is None:  # built on first use: each worker process builds its own
        _cleaner = nh3.Cleaner(
            tags=set(TAGS), clean_content_tags=set(DROP_WITH_CONTENT), attributes=ATTRIBUTES,
            attribute_filter=_attribute, url_schemes=set(URL_SCHEMES), strip_comments=True, link_rel=None,
        )
    return _cleaner


def sanitize_html(html: str) -> str:
    """`html` with only the allowed tags, attributes and URL schemes left."""
    if not html:
        return html
    return _get_cleaner().clean(html)
