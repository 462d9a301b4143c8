"""Downstream reporting: duplicate stories, keywords, full-text search, exports and the HTML report."""
