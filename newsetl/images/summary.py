"""`ImageSummary`: what one images step did, as counts, a CLI line, a markdown table and a dict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ImageSummary:
    """What one images step did; counts are distinct URLs."""

    referenced: int = 0      # URLs the step looked at
    fetched: int = 0         # downloaded and stored (or already in the store: same bytes)
    reused: int = 0          # stored and fresh: no request made
    revalidated: int = 0     # asked the server, 304: still good
    failed: int = 0          # failed in this run
    skipped: int = 0         # refused by policy in this run (blocked address, scheme, too small)
    left_alone: int = 0      # failed max_attempts runs (or skipped) before: not tried (see --retry-failed)
    new_files: int = 0       # images added to the store
    bytes_downloaded: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

    def top_reasons(self, n: int = 5) -> list[tuple[str, int]]:
        return self.reasons.most_common(n)

    def line(self) -> str:
        text = (
            f"images: {self.fetched} fetched, {self.reused} reused, {self.revalidated} revalidated, "
            f"{self.failed} failed, {self.skipped} skipped"
        )
        if self.left_alone:
            text += f", {self.left_alone} left alone"
        if self.reasons:
            text += " (top reasons: " + ", ".join(f"{r} {n}" for r, n in self.top_reasons(3)) + ")"
        return text

    def markdown(self) -> str:
        rows = [
            ("fetched", self.fetched), ("reused", self.reused), ("revalidated", self.revalidated),
            ("failed", self.failed), ("skipped", self.skipped), ("left alone", self.left_alone),
            ("new files in the store", self.new_files), ("bytes downloaded", self.bytes_downloaded),
        ]
        lines = ["# Images", "", "| outcome | URLs |", "| --- | ---: |"]
        lines += [f"| {name} | {count} |" for name, count in rows]
        if self.reasons:
            lines += ["", "## Top failure reasons", "", "| reason | URLs |", "| --- | ---: |"]
            lines += [f"| {reason} | {count} |" for reason, count in self.top_reasons(10)]
        lines += ["", f"{self.referenced} URLs considered in {self.seconds:.1f} s."]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "referenced": self.referenced, "fetched": self.fetched, "reused": self.reused,
            "revalidated": self.revalidated, "failed": self.failed, "skipped": self.skipped,
            "left_alone": self.left_alone, "new_files": self.new_files,
            "bytes_downloaded": self.bytes_downloaded, "seconds": round(self.seconds, 3),
            "top_reasons": self.top_reasons(),
        }

    def counts(self) -> dict[str, int]:
        """The counts the run's `ingest_runs` row keeps (`newsetl.warehouse.images.record_run_counts`)."""
        return {"fetched": self.fetched, "reused": self.reused, "revalidated": self.revalidated,
                "failed": self.failed, "skipped": self.skipped}
