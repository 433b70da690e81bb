"""Summarise a py-spy raw (collapsed) profile: where the sampled time goes, per thread and function.

    .venv/bin/python bench/pyspy_summary.py /tmp/parley-prof/dm-burst.txt [--top 25] [--grep chat/]

Self time is the innermost frame of each sample; inclusive time counts a function once per
sample that has it anywhere on the stack. Record with `--threads` to see the event-loop thread
apart from the sync_to_async (database) thread.
"""

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['name']} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--grep", default="", help="only functions whose label contains this")
    args = parser.parse_args()
    threads, own, inclusive = Counter(), Counter(), Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        count = int(count)
        frames = stack.split(";")
        total += count
        if frames[0].startswith("thread ") or frames[0].startswith("process "):
            threads[frames[0]] += count
            frames = frames[1:] if not frames[0].startswith("process ") else frames[2:]
        labels = [short(f) for f in frames]
        if labels:
            own[labels[-1]] += count
        for label in set(labels):
            inclusive[label] += count
    print(f"{args.profile}: {total} samples")
    for name, count in threads.most_common():
        print(f"  {count / total:6.1%}  {name}")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"\ntop {args.top} by {title} time")
        shown = [(k, v) for k, v in counter.most_common() if args.grep in k][: args.top]
        for name, count in shown:
            print(f"  {count / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
