"""Writes bench/GATEWAY.md and bench/gateway.png from one run of bench/gateway.sh."""

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINE = re.compile(r"^(limit|apache|gateway)\s+([\d.]+) req/s\s+p50\s+(\S+)\s+p99\s+(\S+)\s+non-2xx (\d+)")


def ms(v):
    """wrk's latency (`593.00us`, `1.81ms`, `1.02s`) in milliseconds."""
    n = float(re.match(r"[\d.]+", v).group())
    return n / 1000 if v.endswith("us") else n * 1000 if v.endswith("s") and not v.endswith("ms") else n


def read(path):
    rows = {}
    for line in path.read_text().splitlines():
        m = LINE.match(line)
        if m:
            rows[m.group(1)] = dict(rate=float(m.group(2)), p50=ms(m.group(3)), p99=ms(m.group(4)), non2xx=int(m.group(5)))
    return rows


def main(run: Path) -> None:
    rounds = {}
    for f in sorted(run.glob("round*-*.txt")):
        n, alg = re.match(r"round(\d+)-(\w+)\.txt", f.name).groups()
        rows = read(f)
        if {"limit", "apache", "gateway"} <= rows.keys():
            rounds.setdefault(alg, []).append((int(n), rows))
    idle = int((run / "idle_rss_kb.txt").read_text().strip())
    machine = (run / "machine.txt").read_text().strip()
    md = [
        "# latchkey gateway beside the gateway peers",
        "",
        "`bench/gateway.sh` — nginx as a plain reverse proxy (the limit: forwarding with no",
        "authentication), Apache httpd + mod_auth_openidc verifying the same bearer JWT against the",
        "IdP's JWKS, and `latchkey gateway` verifying it locally (`bench/gateway-kong.yml`), each alone",
        "on core 0; wrk (32 connections) and the upstream (nginx answering `{\"ok\":true}`) on core 1.",
        "The token is a client_credentials access token of latchkey. Ratios are taken within one",
        "round: this VM's speed drifts by a third within minutes.",
        "",
        "```",
        machine,
        "```",
        "",
        "The round with the median gateway rate of each token, and the median of every round's ratios:",
        "",
        "| token | gateway req/s | limit (nginx) | Apache + mod_auth_openidc | gateway / limit | gateway / Apache | p99 gateway / nginx | median of rounds: / limit, / Apache |",
        "|---|---|---|---|---|---|---|---|",
    ]
    chosen = {}
    for alg, rs in sorted(rounds.items()):
        rs.sort(key=lambda r: r[1]["gateway"]["rate"])
        n, r = rs[(len(rs) - 1) // 2]
        chosen[alg] = r
        g, lim, ap = r["gateway"], r["limit"], r["apache"]
        med = lambda xs: sorted(xs)[(len(xs) - 1) // 2]  # noqa: E731
        to_limit = med([x["gateway"]["rate"] / x["limit"]["rate"] for _, x in rs])
        to_apache = med([x["gateway"]["rate"] / x["apache"]["rate"] for _, x in rs])
        md.append(
            f"| {alg} (round {n}) | {g['rate']:,.0f} | {lim['rate']:,.0f} | {ap['rate']:,.0f} | "
            f"{g['rate'] / lim['rate']:.2f} | {g['rate'] / ap['rate']:.1f}× | {g['p99'] / lim['p99']:.2f} "
            f"({g['p99']:.2f} vs {lim['p99']:.2f} ms) | {to_limit:.2f}, {to_apache:.1f}× |"
        )
    md += ["", f"Idle RSS of the gateway after start (issuer discovered, keys fetched): **{idle / 1024:.1f} MB**.", "",
           "Targets: bearer route ≥ 0.75 of the limit and ≥ 8× Apache; idle RSS ≤ 15 MB; p99 within 2× nginx's.", "",
           "Every round:", "", "| round | token | gateway | limit | Apache | gateway / limit | gateway / Apache | non-2xx |", "|---|---|---|---|---|---|---|---|"]
    for alg, rs in sorted(rounds.items()):
        for n, r in sorted(rs, key=lambda x: x[0]):
            g, lim, ap = r["gateway"], r["limit"], r["apache"]
            md.append(f"| {n} | {alg} | {g['rate']:,.0f} | {lim['rate']:,.0f} | {ap['rate']:,.0f} | "
                      f"{g['rate'] / lim['rate']:.2f} | {g['rate'] / ap['rate']:.1f}× | {g['non2xx']} |")
    md += ["", "![requests per second](gateway.png)", ""]
    out = Path(__file__).resolve().parent
    (out / "GATEWAY.md").write_text("\n".join(md))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = ["nginx (no auth)", "latchkey gateway", "Apache + mod_auth_openidc"]
    keys = ["limit", "gateway", "apache"]
    width = 0.38
    for i, (alg, r) in enumerate(sorted(chosen.items())):
        xs = [k + (i - 0.5) * width for k in range(3)]
        bars = ax.bar(xs, [r[k]["rate"] for k in keys], width, label=f"{alg} token")
        ax.bar_label(bars, labels=[f"{r[k]['rate'] / 1000:.1f}k" for k in keys], fontsize=8)
    ax.set_xticks(range(3), names)
    ax.set_ylabel("requests/s, one core")
    ax.set_title("Bearer-token route, 32 connections")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "gateway.png", dpi=110)
    print(f"wrote {out / 'GATEWAY.md'} and {out / 'gateway.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
