"""The reconciliation benchmark on a small file: it runs end to end and its report classifies what it injected;
the figures themselves belong in docs/reconciliation.md, not here."""

from __future__ import annotations

from loadtests import reconcile_bench


async def test_the_reconciliation_benchmark_runs_on_a_small_file(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)

    await reconcile_bench.main(2_000)

    printed = capsys.readouterr().out
    # The day's 1,000 charges (RRNs 2001 to 3000): every row settled, the agency's row of RRN 3000 one rial short;
    # the day before's file, imported first, neither repeats nor pairs with any of them, and the day after's charges
    # belong to no row of the day.
    assert "file rows: 2,000; report rows by kind: {'matched': 1999, 'amount_mismatch': 1}" in printed
    assert "target: import + match >= 0.5 x raw COPY's rate, measured in the same run:" in printed
