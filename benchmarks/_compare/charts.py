"""The comparison's records as PNG charts (matplotlib's Agg backend), each captioned with how it was measured."""

from __future__ import annotations

import importlib
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .libraries import HIT_POLICIES, NA, OPERATIONS
from .measure import FULL_ROUNDS, ROUND_SECONDS, HitRatioResult, Rate, SealedRate, SnapshotRow
from .report import hit_ratio_method, plural, sealed_method, snapshot_method, throughput_method

#: One colour per library in every chart (matplotlib's tab10), grey for references.
COLORS = {
    "dict": "#1f77b4",
    "godistcache": "#ff7f0e",
    "cachebox": "#2ca02c",
    "cachetools": "#d62728",
    "theine": "#9467bd",
    "moka-py": "#8c564b",
    "lru-dict": "#e377c2",
    "": "#7f7f7f",
}


def _caption(fig: Any, text: str, top_inches: float = 0.75) -> None:
    """The method under the plot, wrapped; the plot's bottom margin grows to fit it."""
    wrapped = "\n".join(textwrap.wrap(text, 210))
    fig.text(0.01, 0.01, wrapped, fontsize=6.5, ha="left", va="bottom", color="#333333")
    lines = wrapped.count("\n") + 1
    fig.subplots_adjust(
        bottom=min(0.45, (lines * 0.11 + 0.55) / fig.get_figheight()), top=1 - top_inches / fig.get_figheight()
    )


def _label_bars(ax: Any, bars: Any, fmt: str, fontsize: float = 6.0, rotation: int = 0) -> None:
    for bar in bars:
        h = bar.get_height()
        if h > 0:
            ax.annotate(
                fmt.format(h),
                (bar.get_x() + bar.get_width() / 2, h),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=fontsize,
                rotation=rotation,
            )


def write_charts(
    out_dir: Path,
    env_text: str,
    rates: Sequence[Rate] | None = None,
    hit: HitRatioResult | None = None,
    snapshot: Sequence[SnapshotRow] | None = None,
    sealed: Sequence[SealedRate] | None = None,
    rounds: int = FULL_ROUNDS,
    round_seconds: float = ROUND_SECONDS,
) -> dict[str, Path]:
    """PNG charts of the sections given, each captioned with its method; {section: path}.

    Raises:
        ImportError: matplotlib is not installed.
    """
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    written: dict[str, Path] = {}

    def save(fig: Any, name: str) -> None:
        written[name] = out_dir / f"{name}.png"
        fig.savefig(written[name], dpi=130)
        plt.close(fig)

    if rates:
        sizes = sorted({r.keys for r in rates})
        all_names = list(dict.fromkeys(r.library for r in rates))
        names = [n for n in all_names if any(r.library == n and r.mops for r in rates)]
        missing = [n for n in all_names if n not in names]
        by_key = {(r.library, r.op, r.keys): r for r in rates}
        fig, axes = plt.subplots(len(sizes), 1, figsize=(11, 3.4 * len(sizes) + 2.2), squeeze=False)
        width = 0.8 / max(1, len(names))
        for ax, n in zip(axes[:, 0], sizes):
            for i, name in enumerate(names):
                xs, hs = [], []
                for j, op in enumerate(OPERATIONS):
                    rate = by_key.get((name, op, n))
                    x = j + (i - (len(names) - 1) / 2) * width
                    if rate is not None and rate.mops is not None:
                        xs.append(x)
                        hs.append(rate.mops)
                    else:
                        ax.text(x, 0, NA, rotation=90, fontsize=5.5, ha="center", va="bottom", color="#888888")
                bars = ax.bar(xs, hs, width, label=name, color=COLORS.get(name, COLORS[""]))
                _label_bars(ax, bars, "{:.1f}", fontsize=5.5, rotation=90)
            ax.set_xticks(range(len(OPERATIONS)), list(OPERATIONS.values()))
            ax.set_ylabel("M ops/s (higher is better)")
            ax.set_title(f"{n:,} keys", fontsize=10, loc="left")
            ax.margins(y=0.2)
            ax.grid(axis="y", alpha=0.3)
        axes[0, 0].legend(ncol=len(names), fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.suptitle(f"Throughput, best of {plural(rounds, 'round')}", fontsize=12, x=0.01, ha="left")
        not_installed = f" Not installed: {', '.join(missing)}." if missing else ""
        _caption(
            fig,
            f"{NA}: the library has no such operation.{not_installed} GET: c.get(k) on shuffled keys, all hits; PUT: a"
            " fresh container per pass; TTL 60 s, per entry (given with each put) or per cache (set on the container)."
            f" {throughput_method(rounds, round_seconds)} {env_text}",
        )
        save(fig, "throughput")

    if hit is not None:
        caps = list(hit.ratios)
        policies = [p for p in hit.policies if any(hit.ratios[c].get(p) is not None for c in caps)]
        fig, ax = plt.subplots(figsize=(11, 5.4))
        width = 0.8 / max(1, len(policies))
        seen: set[str] = set()
        for i, policy in enumerate(policies):
            library = HIT_POLICIES[policy][0]
            xs = [j + (i - (len(policies) - 1) / 2) * width for j in range(len(caps))]
            hs = [100 * (hit.ratios[c].get(policy) or 0.0) for c in caps]
            hatch = "//" if library in seen else None  # a library's second policy (cachetools LFU)
            seen.add(library)
            bars = ax.bar(
                xs,
                hs,
                width,
                label=HIT_POLICIES[policy][1],
                color=COLORS.get(library, COLORS[""]),
                hatch=hatch,
                edgecolor="white",
            )
            _label_bars(ax, bars, "{:.1f}", fontsize=6.5)
        ax.set_xticks(range(len(caps)), [f"capacity {c:,} ({c / hit.keys:.0%} of keys)" for c in caps])
        ax.set_ylabel("hit ratio, % (higher is better)")
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
        fig.suptitle(
            f"Hit ratio, read-through: {hit.requests:,} requests over {hit.keys:,} keys, Zipf alpha {hit.alpha:g}",
            fontsize=12,
            x=0.01,
            ha="left",
        )
        _caption(
            fig,
            "Hit ratio = hits / requests, cold misses included; a get, and on a miss a put."
            f" {hit_ratio_method(hit)} {env_text}",
            top_inches=0.95,
        )
        save(fig, "hit_ratio")

    def pair_chart(
        left: tuple[list[float], str, str],
        right: tuple[list[float], str, str],
        fmt: str,
        xticks: list[str],
        ylabel: str,
        title: str,
        caption: str,
    ) -> Any:
        """Two bars per row: (values, label, color) on the left and on the right."""
        fig, ax = plt.subplots(figsize=(11, 4.8))
        pos = range(len(xticks))
        for shift, (values, label, color) in ((-0.2, left), (0.2, right)):
            bars = ax.bar([x + shift for x in pos], values, 0.4, label=label, color=color)
            _label_bars(ax, bars, fmt, fontsize=7)
        ax.set_xticks(list(pos), xticks)
        ax.set_ylabel(ylabel)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
        fig.suptitle(title, fontsize=12, x=0.01, ha="left")
        _caption(fig, caption)
        return fig

    if snapshot:
        fig = pair_chart(
            ([r.ours_s * 1e3 for r in snapshot], "godistcache", COLORS["godistcache"]),
            ([r.ref_s * 1e3 for r in snapshot], "pickle: dumps + write + fsync / read + loads", COLORS[""]),
            "{:.0f} ms",
            [f"{r.op}\n{r.speedup:.1f}x pickle's speed" for r in snapshot],
            "ms (lower is better)",
            f"Snapshot of {snapshot[0].entries:,} entries, save and load",
            "save: cache.save(path) (fsync, rename) beside pickle.dumps + write + fsync of the same"
            " {key: (value, expiry)} dict; load: Cache.from_file(path) beside read + pickle.loads;"
            " sealed: AES-256-GCM frames."
            f" {snapshot_method(snapshot[0].rounds)} {env_text}",
        )
        save(fig, "snapshot")

    if sealed:
        fig = pair_chart(
            ([r.bare_kops for r in sealed], "bare AESGCM encrypt / decrypt", COLORS[""]),
            ([r.ours_kops for r in sealed], "godistcache put_crypt / get_crypt", COLORS["godistcache"]),
            "{:,.0f}",
            [f"{r.op} ({r.kind})\nours: {r.ratio:.2f}x of bare" for r in sealed],
            "k ops/s (higher is better)",
            f"Sealed values (AES-256-GCM), {sealed[0].keys:,} keys",
            "Bare: cryptography's AESGCM call alone on the same plaintexts, associated data and nonce scheme; ours adds"
            f" encoding, framing and the table. {sealed_method(sealed[0].rounds)} {env_text}",
        )
        save(fig, "sealed")
    return written
