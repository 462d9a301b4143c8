"""Remote sources: RSS/Atom feeds and Hexo post files fetched over HTTP."""
