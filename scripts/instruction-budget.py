"""Compares instructions per call with the budget file; with --update,
writes the counts as the new budget, with the reason given.

The input has one line per case: the case's name, then two runs, each as
its number of calls and the total instructions of the calling thread
(CASE <TAB> N1 <TAB> TOTAL1 <TAB> N2 <TAB> TOTAL2). The cost of one call
is the difference of the totals over the difference of the calls, so what
both runs share (start-up, loading, warm-up) cancels out.

Cases named `bare-<case>` count the same calls through a bare wasmtime
embedding (bench/bare.rs). They are not held to the budget, nor written
into it: they count wasmtime, not Rotor, and must not fail the guard. They
are printed after the comparison with the matching Rotor case `<case>` and
the difference of the two, Rotor's own path per call.

Usage: instruction-budget.py TOTALS_TSV BUDGET_JSON [--update REASON]
"""

import json
import sys

# How far over its budget a case may go before the guard fails.
TOLERANCE = 0.10
# The name of a baseline case: the matching Rotor case's, with this before it.
BARE = "bare-"


def counts(totals):
    found = {}
    with open(totals, encoding="utf-8") as rows:
        for row in rows:
            case, n1, total1, n2, total2 = row.split()
            calls = int(n2) - int(n1)
            if calls <= 0:
                sys.exit(f"{case}: the second run must make more calls than the first")
            found[case] = round((int(total2) - int(total1)) / calls)
    return found


def split(measured):
    """The guarded cases, and the bare baselines by the Rotor case they match."""
    guarded = {case: count for case, count in measured.items() if not case.startswith(BARE)}
    bare = {case[len(BARE):]: count for case, count in measured.items() if case.startswith(BARE)}
    return guarded, bare


def report_bare(guarded, bare):
    """Prints each bare baseline beside its Rotor case, and Rotor's own path."""
    if not bare:
        return
    print("Rotor's own path: each Rotor case minus the same calls through bare wasmtime (not budgeted)")
    print(f"{'case':<28} {'Rotor':>12} {'bare':>12} {'Rotor - bare':>13} {'Rotor / bare':>13}")
    for case, baseline in sorted(bare.items()):
        rotor = guarded.get(case)
        if rotor is None:
            print(f"{case:<28} {'-':>12} {baseline:>12,}")
            continue
        print(f"{case:<28} {rotor:>12,} {baseline:>12,} {rotor - baseline:>+13,} {rotor / baseline:>12.2f}x")


def update(budget_path, measured, reason):
    budget = {
        "about": "Instructions per call of Rotor::answer in steady state, counted by "
        "callgrind on the dev build with Rotor's crate at opt-level 3 "
        "(scripts/instruction-guard). CI fails when a case costs more than 10% over "
        "its budget. Raise one only in a commit that says why.",
        "reason": reason,
        "instructions_per_call": dict(sorted(measured.items())),
    }
    with open(budget_path, "w", encoding="utf-8") as file:
        json.dump(budget, file, indent=2)
        file.write("\n")
    for case, count in sorted(measured.items()):
        print(f"{case:<28} {count:>12,}")
    print(f"wrote {budget_path}")


def compare(budget_path, measured):
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


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    totals, budget_path = args[0], args[1]
    measured, bare = split(counts(totals))
    if not measured:
        sys.exit(f"no case in {totals}: did the runs under callgrind fail?")
    if args[2:3] == ["--update"]:
        if len(args) < 4 or not args[3].strip():
            sys.exit("--update takes the reason for the new budget, in one line")
        update(budget_path, measured, args[3].strip())
        print()
        report_bare(measured, bare)
    else:
        # Printed first: a failed comparison exits.
        report_bare(measured, bare)
        print()
        compare(budget_path, measured)


if __name__ == "__main__":
    main()
