"""What a scan of a dry run's images would cost: the layers it would download (each once, as the layer
cache shares them between images, and none the store has analysed already) and their bytes, from the
sizes the manifests give; and the manifest requests, which Docker Hub counts as pulls."""

from __future__ import annotations

from collections.abc import Iterable

from .models import ImageDescription
from .report import plural

UNITS = ("bytes", "KB", "MB", "GB", "TB")


class Estimate:
    def __init__(self, platforms: Iterable[str] = ()) -> None:
        self.platforms = list(platforms)  # --platform: the platforms of an index a scan takes
        self.layers: dict[str, int] = {}  # diff_id -> bytes to download
        self.manifests = 0  # manifest requests the analysis makes (an index's and each platform's)
        self.unsized = 0  # images whose description gave no layer sizes (a vendor's API)
        self.resumed = 0  # images taken from the interrupted run: the store keeps no layer sizes
        self.analysed: set[str] = set()  # the layers the store has analysed already

    def add(self, image: ImageDescription, resumed: bool = False) -> None:
        if image.artifact:
            return
        index = any(word in image.media_type for word in ("index", "manifest.list"))
        chosen = [p for p in image.platforms if p.scanned_with(self.platforms)] if index else []
        self.manifests += 1 + len(chosen)  # the image's manifest (an index's) and each platform's it takes
        if image.layers is None:
            self.resumed += resumed
            self.unsized += not resumed
            return
        for layer in image.layers:
            if layer.platform is None or layer.platform.scanned_with(self.platforms):
                self.layers.setdefault(layer.diff_id, layer.size)

    def lines(self, remaining: int | None) -> list[str]:
        """The summary's lines; ``remaining``: the registry's pulls left (Docker Hub), if it says."""
        download = {diff_id: size for diff_id, size in self.layers.items() if diff_id not in self.analysed}
        text = f"{size_text(sum(download.values()))} in {plural(len(download), 'layer')}"
        if len(download) < len(self.layers):
            text += f" ({len(self.layers) - len(download):,} more analysed already)"
        unknown = []
        if self.unsized:
            unknown.append(f"{plural(self.unsized, 'image')} whose description gives no layer sizes")
        if self.resumed:
            unknown.append(
                f"{plural(self.resumed, 'image')} taken from the interrupted run, whose layer sizes were not kept"
            )
        if unknown and not self.layers:
            text = f"unknown ({' and '.join(unknown)})"
        elif unknown:
            text += ", and " + " and ".join(unknown)
        lines = [f"    A scan would download : {text}"]
        if remaining is not None:
            lines.append(
                f"    Docker Hub pulls      : a scan would spend about {self.manifests:,}, of {remaining:,} left now"
            )
        return lines


def size_text(size: int) -> str:
    """``1536`` -> ``1.5 KB`` (powers of 1024, as docker and crane show sizes)."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} bytes" if unit == 0 else f"{value:.1f} {UNITS[unit]}"
