"""The chaos campaign, short: three randomized storms with every fault kind
between them, through host stacks (the simulator, nova's sqlite schema, nova's
own nova-compute with the engine embedded), judged by nova's whole view.

Seeds 249-251 are chosen because their fault plans cover all eleven kinds
(NovaLink 5xx, drops, stalls, token expiry, MISSING_EVENTS, CACHE_CLEARED,
nova unavailable, nova locked, sink errors, SIGTERM and SIGKILL restarts).
The long campaign (``lpar-eventd-scale chaos --runs 200``) is a benchmark.
"""

from __future__ import annotations

import pytest

from lpar_eventd.scale import chaos, faults

pytestmark = pytest.mark.slow


def test_three_storms_with_every_fault_kind_converge_without_leaks(tmp_path):
    opts = chaos.ChaosOptions(runs=3, seed=249, lpars=40, speed=20.0,
                              converge_timeout=75.0, workdir=tmp_path)
    campaign = chaos.run_campaign(opts)
    summary = campaign.summary()
    print("\n" + chaos.report(campaign))
    assert {k for k, n in summary["faults_by_kind"].items() if n} == set(faults.KINDS)
    assert summary["converged"] == 3, summary["diverged"]
    assert summary["pending_leaks"] == 0
    assert summary["sigterm_nonzero_exits"] == 0
    assert summary["nova_writes_lost"] == 0
    assert summary["nova"]["wrong_nova_actions"] == 0
    for outcome in campaign.outcomes:
        assert outcome.daemon_starts == 1 + sum(
            f["kind"] in faults.RESTART_KINDS for f in outcome.faults)
