"""The half-peak phase's report of autovacuum's passes: only the tables passed over between the two readings, with
the end of the last pass in seconds of the measuring window."""

from loadtests.maintenance import describe, in_window

START = 1_000_000.0


def test_only_the_tables_passed_over_in_the_window_are_named_with_the_end_of_their_last_pass():
    before = {
        "charges_2026_12": (3, 5, START - 300, START - 200),
        "outbox_2026_12": (4, 6, START - 100, START - 90),
        "offices": (1, 1, START - 900, START - 900),
    }
    after = {
        "charges_2026_12": (3, 7, START - 300, START + 32.6),
        "outbox_2026_12": (5, 7, START + 33.1, START + 33.9),
        "offices": (1, 1, START - 900, START - 900),
        "settle_calls": (1, 0, START + 12.2, None),
    }
    passes = in_window(before, after, START)
    assert passes == [
        {"table": "charges_2026_12", "vacuums": 0, "analyzes": 2, "last_ended_s": 32},
        {"table": "outbox_2026_12", "vacuums": 1, "analyzes": 1, "last_ended_s": 33},
        {"table": "settle_calls", "vacuums": 1, "analyzes": 0, "last_ended_s": 12},
    ]
    assert describe(passes).startswith("charges_2026_12 (0 vacuum, 2 analyze, the last ending at 32 s), ")
    assert describe([]) == "none"
