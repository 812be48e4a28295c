"""Turn the raw figures into targets met/missed, a text table and a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

RERUN_RATIO_TARGET = 0.35
LIMITED_VS_BARE_TARGET = 0.9


def _target(name: str, value: str, goal: str, met: bool) -> dict:
    return {"name": name, "value": value, "goal": goal, "met": bool(met)}


def targets(r: dict) -> list[dict]:
    out = []
    if "provisioning" in r:
        p = r["provisioning"]
        out.append(
            _target(
                "re-run / fresh converge",
                f"{p['rerun_ratio']:.2f} ({p['rerun']['seconds']} s / {p['fresh']['seconds']} s)",
                f"<= {RERUN_RATIO_TARGET}",
                p["rerun_ratio"] <= RERUN_RATIO_TARGET,
            )
        )
        out.append(
            _target("re-run changes", str(p["rerun"]["changed"]), "0", p["rerun"]["changed"] == 0)
        )
        out.append(
            _target(
                "drift repaired",
                f"changed={p['drift_repair']['changed']}",
                "> 0",
                p["drift_repair"]["changed"] > 0,
            )
        )
    h = r["http"]
    out.append(
        _target(
            "rate-limited / bare throughput",
            f"{h['limited_vs_bare']:.2f} (median of per-round ratios;"
            f" medians {h['rate_limited']['rps']} / {h['bare']['rps']} req/s)",
            f">= {LIMITED_VS_BARE_TARGET}",
            h["limited_vs_bare"] >= LIMITED_VS_BARE_TARGET,
        )
    )
    c = h["health_redis_connections"]
    out.append(
        _target(
            "/health/ new Redis connections",
            f"{c['new_connections']} over {c['requests']} requests"
            f" ({c['worker_boots']} worker starts)",
            "<= worker starts + workers (none per request)",
            c["new_connections"] <= c["worker_boots"] + r["http"]["workers"],
        )
    )
    e = r["exactness"]
    out.append(
        _target(
            "HTTP limiter, both hosts",
            f"{e['http']['allowed']} allowed of {e['http']['requests']},"
            f" {e['http']['rejected_429']} x 429",
            f"== {e['limit']}, rest 429",
            e["http"]["allowed"] == e["limit"]
            and e["http"]["rejected_429"] == e["http"]["requests"] - e["limit"],
        )
    )
    out.append(
        _target(
            "Lua limiter, direct",
            f"{e['atomic_direct']['allowed']} allowed of {e['atomic_direct']['callers']}",
            f"== {e['limit']}",
            e["atomic_direct"]["allowed"] == e["limit"] and e["atomic_direct"]["errors"] == 0,
        )
    )
    out.append(
        _target(
            "limiter call = one EVALSHA round trip",
            f"{r['redis']['evalsha_per_limiter_call']} EVALSHA per call",
            "1.0",
            abs(r["redis"]["evalsha_per_limiter_call"] - 1.0) < 0.01,
        )
    )
    return out


def _rows(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [line.format(*headers), line.format(*("-" * w for w in widths))]
        + [line.format(*row) for row in rows]
    )


def table(r: dict) -> str:
    parts = []
    m = r["machine"]
    parts.append(
        f"ahsp bench {m['date']}  commit {m['commit']}{' (dirty)' if m['dirty'] else ''}"
        f"  cpus {m['cpus']}"
    )
    if "provisioning" in r:
        p = r["provisioning"]
        runs = [p["fresh"], p["rerun"], p["drift_repair"]]
        for extra in ("exact_limit_run",):
            if extra in r:
                runs.append(r[extra])
        parts.append(
            "\nProvisioning (site.yml / playbooks/app.yml, 4 containers)\n"
            + _rows(
                ["run", "seconds", "changed", "task results (skipped)", "vs fresh"],
                [
                    [
                        x["label"],
                        f"{x['seconds']:.1f}",
                        str(x["changed"]),
                        f"{x.get('host_results', 0)} ({x.get('host_skipped', 0)})",
                        f"{x['seconds'] / p['fresh']['seconds']:.2f}",
                    ]
                    for x in runs
                ],
            )
        )
        parts.append(
            "\nWhere the idempotent re-run's time goes (slowest tasks, summed over plays)\n"
            + _rows(
                ["task", "seconds", "runs"],
                [[t["name"], f"{t['seconds']:.1f}", str(t["runs"])] for t in p["rerun"]["slowest"]],
            )
        )
    h = r["http"]
    parts.append(
        f"\nHTTP on {h['host']} ({h['workers']} gunicorn workers),"
        f" wrk from the controller, median of {h['rounds']} interleaved runs"
        f" of {h['seconds_per_run']} s\n"
        + _rows(
            ["endpoint", "req/s", "p50 ms", "p99 ms", "requests"],
            [
                [
                    s["name"],
                    f"{s['rps']:.0f}",
                    f"{s['p50_ms']:.2f}",
                    f"{s['p99_ms']:.2f}",
                    str(s["requests"]),
                ]
                for s in (h["bare"], h["rate_limited"], h["health"])
            ],
        )
    )
    e = r["exactness"]
    parts.append(
        f"\nLimiter exactness: {e['http']['requests']} concurrent decisions, limit {e['limit']}\n"
        + _rows(
            ["limiter", "allowed", "denied", "errors", "overshoot"],
            [
                [
                    "app, HTTP over both app hosts",
                    str(e["http"]["allowed"]),
                    str(e["http"]["rejected_429"]),
                    str(sum(e["http"]["other"].values())),
                    str(e["http"]["allowed"] - e["limit"]),
                ],
                [
                    "app's Lua script, direct",
                    str(e["atomic_direct"]["allowed"]),
                    str(e["atomic_direct"]["denied"]),
                    str(e["atomic_direct"]["errors"]),
                    str(e["atomic_direct"]["allowed"] - e["limit"]),
                ],
                [
                    "seed-style GET then SET (baseline)",
                    str(e["seed_baseline"]["allowed"]),
                    str(e["seed_baseline"]["denied"]),
                    str(e["seed_baseline"]["errors"]),
                    str(e["seed_baseline"]["allowed"] - e["limit"]),
                ],
            ],
        )
    )
    rd = r["redis"]
    parts.append(
        "\nRedis round trip, controller to the Redis container, one request in flight\n"
        + _rows(
            ["call", "p50 us", "p99 us", "x floor (p50)"],
            [
                [
                    x["command"],
                    f"{x['p50_us']:.0f}",
                    f"{x['p99_us']:.0f}",
                    f"{x['p50_us'] / rd['floor']['p50_us']:.2f}",
                ]
                for x in (rd["floor"], rd["redis_py_get"], rd["limiter"])
            ],
        )
    )
    parts.append(
        "\nTargets\n"
        + _rows(
            ["target", "measured", "goal", "met"],
            [[t["name"], t["value"], t["goal"], "yes" if t["met"] else "NO"] for t in r["targets"]],
        )
    )
    return "\n".join(parts)


def write_json(r: dict, directory: str) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    stamp = r["machine"]["date"].replace(":", "").replace("-", "")
    path = out / f"bench-{stamp}.json"
    path.write_text(json.dumps(r, indent=2) + "\n")
    (out / "latest.json").write_text(json.dumps(r, indent=2) + "\n")
    return path
