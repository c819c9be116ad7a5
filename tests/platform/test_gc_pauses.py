"""Full passes of the cyclic garbage collector leave frozen objects alone. Each case runs in a fresh interpreter:
freezing is process-wide, and the test process must keep its own collector as it is."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from gateway.platform.config import PROJECT_ROOT


def _python(code: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_what_start_up_built_is_left_out_of_later_passes():
    _python("""
        import gc
        from gateway.platform.gc_pauses import freeze_start_up
        registry = [[n] for n in range(50_000)]  # lists are always tracked
        freeze_start_up()
        assert gc.get_freeze_count() >= 50_000, gc.get_freeze_count()
        assert sum(len(gc.get_objects(generation)) for generation in range(3)) < 1_000
        garbage = []
        garbage.append(garbage)          # cycles made later are still collected
        del garbage
        assert gc.collect() >= 1
    """)


def test_what_survives_a_full_pass_is_left_out_of_the_next():
    _python("""
        import gc
        from gateway.platform.gc_pauses import freeze_survivors_of_full_passes
        freeze_survivors_of_full_passes()
        ledger = [[n] for n in range(50_000)]
        gc.collect(1)
        assert gc.get_freeze_count() == 0       # only a full pass freezes
        gc.collect()
        assert gc.get_freeze_count() >= 50_000, gc.get_freeze_count()
        later = [[n] for n in range(1_000)]
        gc.collect()
        assert len(gc.get_objects(generation=2)) < 1_000
        assert gc.get_freeze_count() >= 51_000
    """)
