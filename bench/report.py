"""``bench/RESULTS.md``: the run's figures as Markdown tables, each next to its baseline and the ratio."""

from __future__ import annotations

from typing import Any

WHAT = {
    "declarations_ingest": "CSV load (`load_csv`) vs raw COPY into an unindexed table",
    "declarations_kafka": "`declarations` service vs raw kafka-python consumption",
    "claims_kafka_e2e": "Kafka ingress → decision visible, saturation vs raw produce+consume",
    "claims_http": "HTTP 201s, 16 clients vs raw produce+consume",
    "latency_p99_ms_at_50": "p99 submission → decision visible at 50/s vs raw Kafka p99 at 50/s",
    "replay": "`ipe replay` rebuild + swap vs plain read of the notification log",
    "rules": "`decide` on 36-month histories vs a plain loop over the same data",
}


def _target(entry: dict[str, Any]) -> str:
    if "target_ratio" in entry:
        met = entry["ratio"] is not None and entry["ratio"] >= entry["target_ratio"]
        return f"ratio ≥ {entry['target_ratio']} {'✅' if met else '❌'}"
    if "target" in entry:
        lower = entry["unit"] == "ms"
        met = entry["value"] <= entry["target"] if lower else entry["value"] >= entry["target"]
        return f"{'≤' if lower else '≥'} {entry['target']} {'✅' if met else '❌'}"
    return ""


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine.get('cpus')} CPUs ({machine.get('cpu_model')}), Python {machine.get('python')}; "
        f"load average {machine.get('load_average_at_start')} at start, {machine.get('load_average_at_end')} at end "
        f"(other work shared the machine); run took {machine.get('seconds')} s. Sizes: "
        + ", ".join(f"{k}={v}" for k, v in results["sizes"].items() if k != "out"),
        "",
        "| scenario | value | unit | baseline | ratio | target | what |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for name, entry in results["scenarios"].items():
        lines.append(f"| {name} | {entry['value']:,} | {entry['unit']} | {entry['baseline']:,} | {entry['ratio']} "
                     f"| {_target(entry)} | {WHAT.get(name, '')} |")  # fmt: skip
    latency = results["scenarios"].get("latency_p99_ms_at_50")
    if latency:
        lines += ["", f"Latency at {latency['rate_per_s']}/s: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, "
                  f"p99 {latency['value']} ms (raw Kafka p50 {latency['baseline_p50_ms']} ms, p99 {latency['baseline']} ms)."]  # fmt: skip
    saturation = results["scenarios"].get("claims_kafka_e2e", {}).get("saturation_latency_ms")
    if saturation:
        lines.append(f"At saturation (Kafka ingress): p50 {saturation['p50']} ms, p95 {saturation['p95']} ms, "
                     f"p99 {saturation['p99']} ms.")  # fmt: skip
    for name in ("claims_kafka_e2e", "claims_http"):
        if cpu := results["scenarios"].get(name, {}).get("service_cpu_seconds"):
            used = ", ".join(f"{k} {v}" for k, v in sorted(cpu.items()))
            lines.append(f"CPU seconds used during {name} (2 cores): {used}.")
    if results.get("scale_out"):
        lines += ["", "## Scale-out: projectors in one consumer group", "",
                  "| projectors | claims | decisions/s | claims/s incl. start | decided | decided twice | CPU s by service |",
                  "|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for name, run in results["scale_out"].items():
            cpu = ", ".join(f"{k} {v}" for k, v in run["service_cpu_seconds"].items())
            lines.append(f"| {name.split('_')[0]} | {run['claims']} | {run['claims_per_s']} | {run['claims_per_s_with_start']} | {run['decided']} "
                         f"| {run['decided_twice']} | {cpu} |")  # fmt: skip
    if results.get("memory"):
        lines += ["", "## Memory (resident, MB; target < 250 and flat)", "",
                  "| service | peak | first sample | last sample |", "|---|---:|---:|---:|"]  # fmt: skip
        for name, memory in results["memory"].items():
            lines.append(
                f"| {name} | {memory['peak_rss_mb']} | {memory['first_rss_mb']} | {memory['last_rss_mb']} |"
            )
    if results.get("died"):
        lines += ["", f"Processes that died during the run: {', '.join(results['died'])}."]
    return "\n".join(lines) + "\n"
