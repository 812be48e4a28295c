"""Turn the raw figures into targets met/missed, a text table and a JSON file.

Every section is optional (`--skip-provisioning`, `--skip-day2` leave some
out); a target is only judged when its figures were measured.
"""

from __future__ import annotations

import json
from pathlib import Path

# Issue 14, item 2 (provisioning) and item 3 (limiter).
RERUN_RATIO_TARGET = 0.30
LIMITER_ADDED_VS_GET_TARGET = 1.3
LIMITED_VS_BARE_TARGET = 0.85
# Issue 11, item 8: at least this load, and no failed request, in every step.
DAY2_MIN_RATE = 50.0


def _target(name: str, value: str, goal: str, met: bool) -> dict:
    return {"name": name, "value": value, "goal": goal, "met": bool(met)}


def _provisioning_targets(r: dict) -> list[dict]:
    p = r["provisioning"]
    out = [
        _target(
            "full-stack no-op re-run / fresh converge",
            f"{p['rerun_ratio']:.2f} ({p['rerun']['seconds']} s / {p['fresh']['seconds']} s)",
            f"<= {RERUN_RATIO_TARGET}",
            p["rerun_ratio"] <= RERUN_RATIO_TARGET,
        ),
        _target(
            "no-op re-run changes", str(p["rerun"]["changed"]), "0", p["rerun"]["changed"] == 0
        ),
    ]
    if "drift_repair" in p:
        repaired = r.get("drift", [])
        missing = [d["host"] + ": " + d["drift"] for d in repaired if not d["repaired"]]
        out.append(
            _target(
                "drift repaired",
                f"changed={p['drift_repair']['changed']},"
                f" {len(repaired) - len(missing)} of {len(repaired)} drifts undone",
                "> 0 changes, every drift undone",
                p["drift_repair"]["changed"] > 0 and not missing,
            )
        )
    return out


def _noop_targets(r: dict) -> list[dict]:
    n = r["noop"]
    out = []
    for role, x in n["roles"].items():
        out.append(
            _target(
                f"{role} no-op re-run alone / floor",
                f"{x['x_floor']:.2f} ({x['seconds']} s / {x['floor_seconds']} s,"
                f" median of {n['rounds']})",
                f"<= {x['target_x_floor']:g}",
                x["x_floor"] <= x["target_x_floor"],
            )
        )
    changed = {
        **{f"{role} alone": x["changed"] for role, x in n["roles"].items()},
        **{f"floor {hosts}": x["changed"] for hosts, x in n["floor"].items()},
    }
    dirty = [f"{name} changed={count}" for name, count in changed.items() if count]
    out.append(
        _target(
            "role-alone and floor runs change nothing",
            ", ".join(dirty) or "changed=0 in every run",
            "0",
            not dirty,
        )
    )
    return out


def _limiter_targets(r: dict) -> list[dict]:
    out = []
    if "inprocess" in r:
        i = r["inprocess"]
        out.append(
            _target(
                "limiter added cost / redis-py GET (in-process)",
                f"{i['added_vs_get']:.2f} ({i['added_us']} us / {i['get_us']} us,"
                " median of per-round ratios)",
                f"<= {LIMITER_ADDED_VS_GET_TARGET}",
                i["added_vs_get"] <= LIMITER_ADDED_VS_GET_TARGET,
            )
        )
    if "http" in r:
        h = r["http"]
        cpu = h.get("limited_vs_bare_cpu")
        out.append(
            _target(
                "rate-limited / bare throughput",
                f"{h['limited_vs_bare']:.2f} (median of per-round ratios;"
                f" medians {h['rate_limited']['rps']} / {h['bare']['rps']} req/s"
                + (f"; from the servers' CPU per request {cpu:.2f}" if cpu else "")
                + ")",
                f">= {LIMITED_VS_BARE_TARGET}",
                h["limited_vs_bare"] >= LIMITED_VS_BARE_TARGET,
            )
        )
        c = h["health_redis_connections"]
        windows = c.get("windows", 1)
        out.append(
            _target(
                "/health/ new Redis connections",
                f"{c['new_connections']} over {c['requests']} requests"
                f" ({c['worker_boots']} worker starts, {windows} runs)",
                "<= worker starts + workers per run (none per request)",
                c["new_connections"] <= c["worker_boots"] + h["workers"] * windows,
            )
        )
    if "exactness" in r:
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
                "app's sliding log, direct",
                f"{e['atomic_direct']['allowed']} allowed of {e['atomic_direct']['callers']}",
                f"== {e['limit']}",
                e["atomic_direct"]["allowed"] == e["limit"] and e["atomic_direct"]["errors"] == 0,
            )
        )
    if "redis" in r:
        out.append(
            _target(
                "limiter decision = one FCALL round trip",
                f"{r['redis']['fcall_per_limiter_call']} FCALL per decision",
                "1.0",
                abs(r["redis"]["fcall_per_limiter_call"] - 1.0) < 0.01,
            )
        )
    return out


def _day2_targets(r: dict) -> list[dict]:
    d = r["day2"]
    out = []
    for step in d["steps"]:
        out.append(
            _target(
                f"day-2: {step['step']}",
                f"{step['failed']} failed of {step['sent']} at {step['rate']:.0f} req/s,"
                f" p99 {step['p99_ms']} ms",
                f"0 failed, >= {DAY2_MIN_RATE:.0f} req/s",
                step["failed"] == 0 and step["rate"] >= DAY2_MIN_RATE,
            )
        )
    checks = d.get("checks", {})
    if "redis" in checks:
        c = checks["redis"]
        out.append(
            _target(
                "day-2: Redis setting applied without a restart",
                f"maxmemory {c['maxmemory_after']}, PID {c['pid_before']} -> {c['pid_after']}",
                f"maxmemory {c['maxmemory_wanted']}, same PID",
                c["maxmemory_after"] == c["maxmemory_wanted"] and c["pid_before"] == c["pid_after"],
            )
        )
    if "postgresql" in checks:
        c = checks["postgresql"]
        out.append(
            _target(
                "day-2: PostgreSQL setting applied by reload",
                f"work_mem {c['work_mem_after']}, "
                + ("same start time" if c["started_before"] == c["started_after"] else "restarted"),
                f"work_mem {c['work_mem_wanted']}, no restart",
                c["work_mem_after"] == c["work_mem_wanted"]
                and c["started_before"] == c["started_after"],
            )
        )
    return out


def targets(r: dict) -> list[dict]:
    out = []
    if "provisioning" in r:
        out += _provisioning_targets(r)
    if "noop" in r:
        out += _noop_targets(r)
    out += _limiter_targets(r)
    if "day2" in r:
        out += _day2_targets(r)
    return out


def _rows(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [line.format(*headers).rstrip(), line.format(*("-" * w for w in widths))]
        + [line.format(*row).rstrip() for row in rows]
    )


def _section(title: str, headers: list[str], rows: list[list[str]]) -> str:
    return f"\n{title}\n" + _rows(headers, rows)


def _provisioning_tables(r: dict) -> list[str]:
    p = r["provisioning"]
    runs = [p["fresh"], p["rerun"]]
    if "drift_repair" in p:
        runs.append(p["drift_repair"])
    runs += [r[x] for x in ("exact_limit_run", "limit_restored_run") if x in r]
    parts = [
        _section(
            "Provisioning (site.yml / playbooks/app.yml, 4 containers)",
            ["run", "seconds", "changed", "task results (skipped)", "module runs", "vs fresh"],
            [
                [
                    x["label"],
                    f"{x['seconds']:.1f}",
                    str(x["changed"]),
                    f"{x.get('host_results', 0)} ({x.get('host_skipped', 0)})",
                    str(x.get("modules", "")),
                    f"{x['seconds'] / p['fresh']['seconds']:.2f}",
                ]
                for x in runs
            ],
        )
    ]
    rerun = p["rerun"]
    in_plays = sum(s["seconds"] for s in rerun["plays"])
    parts.append(
        _section(
            "No-op re-run of site.yml by tier (plays; json callback)",
            ["play", "batches", "hosts", "seconds", "task results", "module runs"],
            [
                [
                    s["name"],
                    str(s["batches"]),
                    str(s["hosts"]),
                    f"{s['seconds']:.1f}",
                    str(s["tasks"]),
                    str(s["modules"]),
                ]
                for s in rerun["plays"]
            ]
            + [
                [
                    "(outside plays: start-up, inventory, recap)",
                    "",
                    "",
                    f"{max(0.0, rerun['seconds'] - in_plays):.1f}",
                    "",
                    "",
                ],
                ["total", "", "", f"{rerun['seconds']:.1f}", "", str(rerun.get("modules", ""))],
            ],
        )
    )
    alone = r.get("noop", {}).get("roles", {})
    parts.append(
        _section(
            "No-op re-run by role: share of the site.yml re-run (profile_roles), and alone",
            [
                "role",
                "in re-run s",
                "hosts",
                "tasks/host",
                "modules/host",
                "alone s",
                "floor s",
                "x floor",
                "target",
                "met",
            ],
            [
                [
                    s["name"],
                    f"{s['seconds']:.1f}",
                    str(s["hosts"]),
                    f"{s['tasks'] / max(1, s['hosts']):.1f}",
                    f"{s['modules'] / max(1, s['hosts']):.1f}",
                    *(
                        [
                            f"{alone[s['name']]['seconds']:.1f}",
                            f"{alone[s['name']]['floor_seconds']:.1f}",
                            f"{alone[s['name']]['x_floor']:.2f}",
                            f"<= {alone[s['name']]['target_x_floor']:g}",
                            "yes"
                            if alone[s["name"]]["x_floor"] <= alone[s["name"]]["target_x_floor"]
                            else "NO",
                        ]
                        if s["name"] in alone
                        else ["", "", "", "", ""]
                    ),
                ]
                for s in rerun["roles"]
            ],
        )
    )
    parts.append(
        _section(
            "No-op re-run of site.yml per host",
            ["host", "task results", "skipped", "module runs"],
            [
                [s["name"], str(s["tasks"]), str(s["skipped"]), str(s["modules"])]
                for s in rerun["hosts"]
            ],
        )
    )
    if "noop" in r:
        n = r["noop"]
        parts.append(
            _section(
                f"Floor: the preflight's fact gathering + one no-op task (median of {n['rounds']})",
                ["hosts", "seconds", "runs", "task results", "module runs"],
                [
                    [
                        hosts,
                        f"{f['seconds']:.2f}",
                        " ".join(f"{x:.1f}" for x in f["runs"]),
                        str(f["host_results"]),
                        str(f["modules"]),
                    ]
                    for hosts, f in n["floor"].items()
                ],
            )
        )
        full_floor = n["floor"]["redis:db:app"]["seconds"]
        parts.append(
            f"full-stack no-op re-run = {rerun['seconds'] / full_floor:.1f} x the full-stack floor"
        )
    parts.append(
        _section(
            "Slowest tasks of the no-op re-run (summed over plays and batches)",
            ["task", "seconds", "runs"],
            [[t["name"], f"{t['seconds']:.1f}", str(t["runs"])] for t in rerun["slowest"]],
        )
    )
    if r.get("drift"):
        parts.append(
            _section(
                "Drift applied before the repair run",
                ["host", "drift", "undone"],
                [[d["host"], d["drift"], "yes" if d["repaired"] else "NO"] for d in r["drift"]],
            )
        )
    return parts


def _limiter_tables(r: dict) -> list[str]:
    parts = []
    if "redis" in r:
        rd = r["redis"]
        parts.append(
            _section(
                "Redis round trip, controller to the Redis container, one request in flight",
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
    if "memory" in r:
        m = r["memory"]
        rows = [
            [f"MEMORY USAGE, {shape}", f"{size}", ""]
            for shape, size in m["memory_usage_bytes"].items()
        ]
        rows.append(
            [
                f"used_memory / client ({m['population']} clients)",
                f"{m['used_memory_per_client_bytes']:.0f}",
                f"{m['clients_in_maxmemory']:,} clients in maxmemory"
                f" {m['maxmemory_bytes'] // 2**20} MB ({m['maxmemory_policy']})",
            ]
        )
        parts.append(
            _section(
                f"Redis memory per tracked client: one limiter log after"
                f" {m['requests_per_client']} requests (limit {m['limit']} per {m['window_s']} s)",
                ["measure", "bytes", "capacity"],
                rows,
            )
        )
    if "inprocess" in r:
        i = r["inprocess"]
        s = i["summary"]
        parts.append(
            _section(
                f"Limiter in-process on {i['host']} (WSGI handler, redis-py {i['redis_py']},"
                f" hiredis {'yes' if i['hiredis'] else 'no'}), {i['rounds']} rounds"
                f" of {i['block']} steps, one call of each kind per step",
                ["call", "p50 us", "p99 us", "p50 CPU us"],
                [
                    [label, f"{s[kind]['p50_us']:.0f}", f"{s[kind]['p99_us']:.0f}", _us(s[kind])]
                    for kind, label in (
                        ("bare", f"GET {i['path']}, limiter off"),
                        ("limited", f"GET {i['path']}, limiter on"),
                        ("decision", "limiter decision alone (sliding_log.hit)"),
                        ("get", "redis-py GET, the app's client"),
                    )
                ]
                + [
                    [
                        "added by the limiter (median of per-round differences)",
                        f"{i['added_us']:.0f}",
                        f"= {i['added_vs_get']:.2f} x GET",
                        f"{i['added_cpu_us']:.0f}" if "added_cpu_us" in i else "",
                    ],
                ],
            )
        )
        profile = i["profile"]["limited"]
        bare = i["profile"].get("bare", {}).get("points", {})
        parts.append(
            _section(
                f"Profile of a limited request in-process (cProfile, {profile['requests']}"
                " requests each; profiler overhead included)",
                ["where", "us/request", "calls/request", "limiter off us/request"],
                [
                    [
                        label,
                        f"{x['us_per_request']:.0f}",
                        f"{x['calls_per_request']:g}",
                        f"{bare[label]['us_per_request']:.0f}" if label in bare else "",
                    ]
                    for label, x in profile["points"].items()
                ],
            )
        )
    if "http" in r:
        h = r["http"]
        parts.append(
            _section(
                f"HTTP on {h['host']} ({h['workers']} gunicorn workers), wrk from the controller"
                f" ({h['client_pool']} client addresses), median of {h['rounds']} interleaved"
                f" runs of {h['seconds_per_run']} s",
                ["endpoint", "req/s", "p50 ms", "p99 ms", "requests", "server CPU us/request"],
                [
                    [
                        x["name"],
                        f"{x['rps']:.0f}",
                        f"{x['p50_ms']:.2f}",
                        f"{x['p99_ms']:.2f}",
                        str(x["requests"]),
                        _cpu(x.get("cpu_us", {})),
                    ]
                    for x in (h["bare"], h["rate_limited"], h["health"])
                ],
            )
            + "\nper-round req/s (bare / limited): "
            + "  ".join(
                f"{b['rps']:.0f}/{lim['rps']:.0f}"
                for b, lim in zip(h["bare"]["runs"], h["rate_limited"]["runs"], strict=False)
            )
            + _ports(r.get("machine", {}).get("tcp_tw_reuse"))
        )
        q = h["sequential"]
        get_us = r.get("redis", {}).get("redis_py_get", {}).get("p50_us")
        vs_get = f" = {q['added_p50_us'] / get_us:.2f} x the controller's GET" if get_us else ""
        parts.append(
            _section(
                f"HTTP one request at a time (wrk -t1 -c1), median of {q['rounds']} interleaved"
                " runs: the limiter over HTTP",
                ["endpoint", "req/s", "p50 ms", "p99 ms"],
                [
                    [x["name"], f"{x['rps']:.0f}", f"{x['p50_ms']:.3f}", f"{x['p99_ms']:.2f}"]
                    for x in (q["bare"], q["rate_limited"])
                ],
            )
            + f"\nadded by the limiter over HTTP: {q['added_p50_us']:.0f} us (p50){vs_get}"
        )
    if "exactness" in r:
        e = r["exactness"]
        parts.append(
            _section(
                f"Limiter exactness: {e['http']['requests']} concurrent decisions,"
                f" limit {e['limit']}",
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
                        "app's sliding log, direct",
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
    return parts


def _ports(setting: dict | None) -> str:
    """The controller's TIME_WAIT reuse during the loads (see common.reuse_time_wait_ports)."""
    if not setting:
        return ""
    changed = f" (was {setting['before']})" if setting["before"] != setting["during"] else ""
    return f"\ncontroller's net.ipv4.tcp_tw_reuse during the loads: {setting['during']}{changed}"


def _us(summary: dict) -> str:
    """A summary's CPU median, blank for results from before CPU was timed."""
    return f"{summary['cpu_p50_us']:.0f}" if "cpu_p50_us" in summary else ""


def _cpu(cpu: dict) -> str:
    """The servers' CPU per request, then where (app host, Redis, PostgreSQL), and wrk's."""
    if not cpu:
        return ""
    parts = [
        f"{name.removeprefix('bench-')} {value:.0f}"
        for name, value in cpu.items()
        if name not in ("server", "wrk")
    ]
    wrk = f"; wrk {cpu['wrk']:.0f}" if "wrk" in cpu else ""
    return f"{cpu['server']:.0f} ({', '.join(parts)}{wrk})"


def _day2_table(r: dict) -> str:
    d = r["day2"]
    rows = [
        [
            "quiet baseline (nothing shipping)",
            "",
            "",
            str(d["quiet"]["sent"]),
            str(d["quiet"]["failed"]),
            f"{d['quiet']['rate']:.0f}",
            f"{d['quiet']['p50_ms']:.1f}",
            f"{d['quiet']['p99_ms']:.1f}",
            "1.00",
        ]
    ]
    for s in d["steps"]:
        rows.append(
            [
                s["step"],
                f"{s['playbook_seconds']:.0f}",
                str(s["changed"]),
                str(s["sent"]),
                str(s["failed"]),
                f"{s['rate']:.0f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                f"{s['p99_x_quiet']:.2f}",
            ]
        )
    return _section(
        f"Day-2 changes under load: {d['rate']:.0f} requests/s over both app hosts"
        " (/health/ and the tree API with a bearer token)",
        [
            "step",
            "playbook s",
            "changed",
            "sent",
            "failed",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99 x quiet",
        ],
        rows,
    )


def table(r: dict) -> str:
    m = r["machine"]
    parts = [
        f"ahsp bench {m['date']}  commit {m['commit']}{' (dirty)' if m['dirty'] else ''}"
        f"  cpus {m['cpus']}  {m['ansible_core']}"
    ]
    if "provisioning" in r:
        parts += _provisioning_tables(r)
    parts += _limiter_tables(r)
    if "day2" in r:
        parts.append(_day2_table(r))
    parts.append(
        _section(
            "Targets",
            ["target", "measured", "goal", "met"],
            [[t["name"], t["value"], t["goal"], "yes" if t["met"] else "NO"] for t in r["targets"]],
        )
    )
    if "bench_seconds" in r:
        parts.append(f"\nbench wall time {r['bench_seconds'] / 60:.1f} min")
    return "\n".join(parts)


def write_json(r: dict, directory: str, *, name: str = "bench") -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    stamp = r["machine"]["date"].replace(":", "").replace("-", "")
    path = out / f"{name}-{stamp}.json"
    text = json.dumps(r, indent=2) + "\n"
    path.write_text(text)
    if name == "bench":
        (out / "latest.json").write_text(text)
    return path
