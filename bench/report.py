"""Writes bench/RESULTS.md and bench/results.png from one run of bench/run.sh."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SCENARIOS = [
    ("S1", "client_credentials, RS256 access token", "limit-rs256", 1),
    ("S2", "client_credentials, ES256 access token", "limit-es256", 1),
    ("S3", "refresh with rotation, RS256 access + ID token", "limit-rs256", 2),
    ("S4", "refresh with rotation, ES256 access + ID token", "limit-es256", 2),
    ("S5", "password grant, argon2id m=19 MiB t=2 p=1", "limit-argon2", 1),
]
# The peer's client_credentials figures in its README, measured on a machine of this kind
# (../shared/peers/oidc-provider/README.md). The peer's rate in a run over these says how fast
# the machine was that hour (its refresh figures were measured on single-use tokens, not
# chains, so they are not compared).
PEER_PUBLISHED = {"S1": 2157, "S2": 5270}

TARGETS = {
    "S1": "≥ 0.85 of limit",
    "S2": "≥ 25,000/s",
    "S3": "≥ 0.85 of limit",
    "S4": "≥ 12,000/s",
    "S5": "≥ 0.9 of limit",
}


def median(xs):
    """The median of the values present (the lower one of two middles)."""
    xs = sorted(x for x in xs if x is not None)
    return xs[(len(xs) - 1) // 2] if xs else float("nan")


def main(run: Path) -> None:
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line]
    startup = next((r for r in rows if r["id"] == "startup"), {})
    rows = [r for r in rows if r["id"] != "startup"]
    by = {}  # (server, id) -> {round: row}
    for r in rows:
        by.setdefault((r["server"], r["id"]), {})[r.get("round", 1)] = r

    def median_round(sid):
        """The round whose latchkey rate is the median of the rounds (the lower one of two)."""
        runs = by.get(("latchkey", sid), {})
        if not runs:
            return None
        order = sorted(runs, key=lambda k: runs[k]["rps"])
        return order[(len(order) - 1) // 2]

    limit_rows = [r for r in rows if r["server"] == "limit"]
    rows = [r for r in rows if r["server"] != "limit"]
    by = {k: v for k, v in by.items() if k[0] != "limit"}

    def limits_of(rnd, sid=None):
        """The limits of round `rnd`: for `sid`'s own limit, the mean of those measured with its
        run (one, interleaved with the load; two, before and after, in runs older than that);
        for the others, the latest measured in that round."""
        out, own = {}, {}
        for r in limit_rows:
            if r.get("round", 1) != rnd:
                continue
            if r.get("scenario_id") == sid:
                own.setdefault(r["id"], []).append(r["per_second"])
            else:
                out[r["id"]] = r["per_second"]
        out.update({k: sum(v) / len(v) for k, v in own.items()})
        return out

    def ratio_of(sid, lim, per, rnd):
        """A latchkey run's rate over its limit (signatures or hashes a second / per response)."""
        r = by.get(("latchkey", sid), {}).get(rnd)
        lim_rate = limits_of(rnd, sid).get(lim)
        return r["rps"] * per / lim_rate if (r and lim_rate) else None

    rounds = sorted({r.get("round", 1) for r in rows})
    limit = limits_of(median_round("S4") or rounds[0], "S4")
    machine = (run / "machine.txt").read_text().strip()

    def mb(kb):
        return f"{kb / 1024:.0f} MB"

    def speed_line():
        """How fast the machine ran, from the peer's client_credentials rates against its README."""
        parts = []
        for sid, published in PEER_PUBLISHED.items():
            rates = [r["rps"] for r in by.get(("peer", sid), {}).values()]
            if rates:
                lo, hi = min(rates) / published, max(rates) / published
                parts.append(f"{sid} {lo:.2f}–{hi:.2f}")
        if not parts:
            return ""
        return (
            "Machine speed this run: the peer reached "
            + ", ".join(parts)
            + " of the client_credentials rates its README gives for this machine kind."
        )

    lines = [
        "# Benchmark results",
        "",
        "One run of `bench/run.sh` (the command is below): each server alone on core 0, the load",
        "generator `latchkey-loadgen` on core 1 (polling, `--spin`, so that waking it costs the",
        "server's core nothing), one keep-alive connection per client, 2 s of warm-up not counted.",
        "latchkey runs its release build on SQLite with `synchronous=FULL`: every rotation is",
        "fsynced before its response is sent (group commit). The peer, node-oidc-provider",
        "(`../shared/peers/oidc-provider`), keeps everything in memory and writes nothing to disk.",
        "*Limit* is the raw rate of one core at the signatures or hashes a response needs,",
        "measured on the server's core during each latchkey run, interleaved with its load:",
        "every 2 s the clients hold their next request, the server finishes what it has, and",
        "the load generator signs or hashes there for 0.5 s (`latchkey-loadgen --limit`); the",
        "requests/s count the time under load only. S4's: RS256",
        f"{limit.get('limit-rs256', 0):,.0f}/s, ES256 {limit.get('limit-es256', 0):,.0f}/s, "
        f"argon2id verification {limit.get('limit-argon2', 0):,.1f}/s.",
        "",
        "```",
        machine,
        "```",
        "",
        speed_line(),
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | errors | peak RSS | latchkey/peer | of limit | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    chart = []
    spread = []
    for sid, title, lim, per in SCENARIOS:
        rnd = median_round(sid)
        lk = by.get(("latchkey", sid), {}).get(rnd)
        pr = by.get(("peer", sid), {}).get(rnd)
        lim_rate = limits_of(rnd, sid).get(lim)
        cap = lim_rate / per if lim_rate else None
        for who in ("latchkey", "peer"):
            runs = by.get((who, sid), {})
            if runs:
                spread.append(
                    f"| {sid} | {who} | "
                    + " | ".join(f"{runs[k]['rps']:,.0f}" if k in runs else "" for k in rounds)
                    + f" | {rnd} |"
                )
        for who, r in (("latchkey", lk), ("peer", pr)):
            if r is None:
                if who == "peer":
                    lines.append(f"| {sid} | peer | — (no password grant) | | | | | | | |")
                continue
            ratio = f"{lk['rps'] / pr['rps']:.1f}×" if (who == "latchkey" and lk and pr) else ""
            of_limit = f"{r['rps'] / cap:.2f}" if cap else ""
            target = TARGETS[sid] if who == "latchkey" else ""
            name = f"{sid} {title}" if who == "latchkey" else sid
            lines.append(
                f"| {name} | {who} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['errors']} | {mb(r['peak_rss_kb'])} | {ratio} | {of_limit} | {target} |"
            )
        chart.append((sid, lk["rps"] if lk else 0, pr["rps"] if pr else 0, cap or 0))
    if len(rounds) > 1:
        lines += [
            "",
            f"Each scenario ran in {len(rounds)} rounds; the table above shows, per scenario, the",
            "round with the median latchkey rate, beside the peer and the limits of that round.",
            "Requests/s in every round:",
            "",
            "| scenario | server | " + " | ".join(f"round {k}" for k in rounds) + " | shown |",
            "|---|---|" + "---:|" * len(rounds) + "---:|",
            *spread,
            "",
            "Ratio of latchkey's rate to its limit in every round (the targets' measure), and",
            "their median:",
            "",
            "| scenario | target | " + " | ".join(f"round {k}" for k in rounds) + " | median |",
            "|---|---|" + "---:|" * (len(rounds) + 1),
            *[
                f"| {sid} | {TARGETS[sid]} | "
                + " | ".join(
                    f"{x:.2f}" if (x := ratio_of(sid, lim, per, k)) is not None else ""
                    for k in rounds
                )
                + f" | {median([ratio_of(sid, lim, per, k) for k in rounds]):.2f} |"
                for sid, _, lim, per in SCENARIOS
                if "limit" in TARGETS[sid]
            ],
            "",
            "Limits, measured on the server's core between slices of each latchkey run's load",
            "(one core, per second):",
            "",
            "| scenario | limit | " + " | ".join(f"round {k}" for k in rounds) + " |",
            "|---|---|" + "---:|" * len(rounds),
            *[
                f"| {sid} | {lim} | "
                + " | ".join(f"{limits_of(k, sid).get(lim, 0):,.1f}" for k in rounds)
                + " |"
                for sid, _, lim, _ in SCENARIOS
            ],
        ]
    scale_runs = sorted(Path(__file__).parent.glob("results/scale-*.jsonl"))
    if scale_runs:
        srows = [json.loads(x) for x in scale_runs[-1].read_text().splitlines() if x]
        sizes = sorted({r["records"] for r in srows})
        lines += [
            "",
            f"## Scale (`bench/scale.sh`, {scale_runs[-1].name})",
            "",
            "S4's load on a store that already holds N refresh-token records laid out as latchkey",
            "writes them (time-ordered ids); the oldest tenth expired long ago, and the sessions of",
            "a tenth of the families idled out long ago: a backlog the background purge deletes",
            "while the load runs. Sizes take turns round by round; each run starts from a fresh",
            "copy of its filled store.",
            "",
            "| records | round | req/s | p50 ms | p99 ms | errors | expired at start | left after the run | dead sessions at start | left after the run |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        med = {}
        for n in sizes:
            runs = sorted((r for r in srows if r["records"] == n), key=lambda r: r.get("round", 1))
            for r in runs:
                lines.append(
                    f"| {n:,} | {r.get('round', 1)} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['errors']} | {r['expired_at_start']:,} | {r['expired_left']:,} | "
                    f"{r.get('dead_sessions_at_start', 0):,} | {r.get('dead_sessions_left', 0):,} |"
                )
            p99s = sorted(r["p99_ms"] for r in runs)
            med[n] = p99s[(len(p99s) - 1) // 2]
        if len(sizes) >= 2:
            lo, hi = sizes[0], sizes[-1]
            lines += [
                "",
                f"Median p99: {med[hi]:.1f} ms with {hi:,} records, {med[lo]:.1f} ms with {lo:,}: "
                f"{med[hi] / med[lo]:.2f}× (target ≤ 1.5×).",
            ]
    lines += [
        "",
        f"Start-up on an existing store: ready after {startup.get('ready_ms', '?')} ms; "
        f"idle RSS {mb(startup.get('idle_rss_kb', 0))}.",
        "",
        "![requests per second, latchkey beside the peer](results.png)",
        "",
        "Raw lines: `results.jsonl` of the run folder (`bench/results/`, not committed).",
        "",
    ]
    out = Path(__file__).parent
    (out / "RESULTS.md").write_text("\n".join(lines))

    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    xs = range(len(chart))
    w = 0.38
    lk = [c[1] for c in chart]
    pr = [c[2] for c in chart]
    ax.bar([x - w / 2 for x in xs], lk, w, label="latchkey (SQLite, fsync per batch)", color="#2b6cb0")
    ax.bar([x + w / 2 for x in xs], pr, w, label="node-oidc-provider (in memory)", color="#a0aec0")
    for x, c in zip(xs, chart):
        if c[3]:
            ax.plot([x - 0.45, x + 0.45], [c[3], c[3]], color="#c53030", lw=1.2, ls="--")
    ax.plot([], [], color="#c53030", lw=1.2, ls="--", label="limit: one core's signing / hashing rate")
    for x, v in zip(xs, lk):
        ax.text(x - w / 2, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    for x, v in zip(xs, pr):
        if v:
            ax.text(x + w / 2, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(
        ["S1 cc RS256", "S2 cc ES256", "S3 refresh RS256", "S4 refresh ES256", "S5 password"]
    )
    ax.set_yscale("log")
    ax.set_ylabel("requests/s, one server core (log scale)")
    ax.set_title("Token endpoint throughput, server pinned to one core")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(out / "results.png")
    print(f"wrote {out / 'RESULTS.md'} and {out / 'results.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
