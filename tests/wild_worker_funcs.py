"""A batch function for the worker-death test (tests/test_wild_posts.py): importable in worker processes."""

from __future__ import annotations

import os

from newsetl.posts.pipeline import prepare_batch


def prepare_or_die(inputs, *args):
    """`prepare_batch`, except that a batch holding `killer.md` kills its worker process outright."""
    if any(ref.locator.endswith("killer.md") for ref in inputs.items):
        os._exit(3)  # what a crash in a C library or the OOM killer does: no exception, no cleanup
    return prepare_batch(inputs, *args)
