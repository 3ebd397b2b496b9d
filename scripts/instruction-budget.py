"""Compares instructions per call, read from callgrind_annotate's inclusive
listing of bench/instructions.rs's `measure_<case>` functions, with the
budget file; with --update, writes the counts as the new budget.

Usage: instruction-budget.py ANNOTATE_TXT CALLS BUDGET_JSON [--update]
"""

import json
import re
import sys

# How far over its budget a case may go before the guard fails.
TOLERANCE = 0.10

LINE = re.compile(r"^\s*([\d,]+)\s.*instructions::measure_(\w+)\b")


def counts(annotate, calls):
    found = {}
    with open(annotate, encoding="utf-8") as listing:
        for line in listing:
            match = LINE.match(line)
            if match:
                case = match.group(2).replace("_", "-")
                total = int(match.group(1).replace(",", ""))
                found[case] = max(found.get(case, 0), total // calls)
    return found


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    annotate, calls, budget_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    update = "--update" in sys.argv[4:]
    measured = counts(annotate, calls)
    if not measured:
        sys.exit(f"no measure_* function in {annotate}: did the run under callgrind fail?")
    if update:
        budget = {
            "about": "Instructions per call of Rotor::answer in steady state, counted by "
            "callgrind on the dev build with Rotor's crate at opt-level 3 (scripts/instruction-guard). CI fails when a "
            "case costs more than 10% over its budget. Raise one only in a commit that "
            "says why.",
            "instructions_per_call": dict(sorted(measured.items())),
        }
        with open(budget_path, "w", encoding="utf-8") as file:
            json.dump(budget, file, indent=2)
            file.write("\n")
        for case, count in sorted(measured.items()):
            print(f"{case:<28} {count:>12,}")
        print(f"wrote {budget_path}")
        return
    with open(budget_path, encoding="utf-8") as file:
        budget = json.load(file)["instructions_per_call"]
    failed = []
    print(f"{'case':<28} {'budget':>12} {'measured':>12} {'change':>8}")
    for case in sorted(set(budget) | set(measured)):
        allowed, count = budget.get(case), measured.get(case)
        if allowed is None:
            failed.append(f"{case}: measured but not in the budget")
            print(f"{case:<28} {'-':>12} {count:>12,}")
            continue
        if count is None:
            failed.append(f"{case}: in the budget but not measured")
            print(f"{case:<28} {allowed:>12,} {'-':>12}")
            continue
        change = count / allowed - 1
        print(f"{case:<28} {allowed:>12,} {count:>12,} {change:>+8.1%}")
        if change > TOLERANCE:
            failed.append(f"{case}: {count:,} instructions per call, {change:+.1%} over its budget")
    if failed:
        print("\n".join(["", "instruction budget exceeded:"] + failed), file=sys.stderr)
        sys.exit(1)
    print("every case is within 10% of its budget")


if __name__ == "__main__":
    main()
