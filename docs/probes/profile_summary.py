#!/usr/bin/env python3
"""Sums a libtorch Chrome trace (ProfileProbe) per operator and input shapes, by self time.

    python3 docs/probes/profile_summary.py trace.json [rows]

Self time is an event's duration less that of the events nested inside it on the same thread,
so each microsecond is counted once, at the innermost operator that spent it.
"""
import collections
import json
import sys


def self_times(events):
    """Yields (event, self microseconds) for complete ('X') events, thread by thread."""
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X":
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for thread in by_thread.values():
        thread.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, children's total]
        def close(entry):
            yield entry[0], entry[0]["dur"] - entry[1]
        for e in thread:
            while stack and stack[-1][0]["ts"] + stack[-1][0]["dur"] <= e["ts"]:
                yield from close(stack.pop())
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
        while stack:
            yield from close(stack.pop())


def main():
    trace = json.load(open(sys.argv[1]))
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    by_op = collections.defaultdict(lambda: [0.0, 0])
    by_op_shape = collections.defaultdict(lambda: [0.0, 0])
    total = 0.0
    for e, us in self_times(events):
        total += us
        by_op[e["name"]][0] += us
        by_op[e["name"]][1] += 1
        key = (e["name"], json.dumps([s for s in e.get("shape", []) if s]))
        by_op_shape[key][0] += us
        by_op_shape[key][1] += 1
    print(f"total self time {total / 1e6:.3f} s")
    print("\nper operator:")
    for name, (us, n) in sorted(by_op.items(), key=lambda kv: -kv[1][0])[:rows]:
        print(f"{us / 1e6:8.3f} s {100 * us / total:5.1f}% {n:6d}  {name}")
    print("\nper operator and shapes:")
    for (name, shape), (us, n) in sorted(by_op_shape.items(), key=lambda kv: -kv[1][0])[:rows]:
        print(f"{us / 1e6:8.3f} s {100 * us / total:5.1f}% {n:5d}  {name} {shape}")


if __name__ == "__main__":
    main()
