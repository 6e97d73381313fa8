"""The delay queue's contract: debounce, max-wait, single flight, bound, cancel."""

from lpar_eventd.engine.delayq import AddResult, DelayQueue


class TestDebounce:
    def test_a_newer_add_pushes_the_due_time_later(self):
        q = DelayQueue()
        assert q.add("a", 0.0, 15.0)[0] is AddResult.NEW
        assert q.add("a", 10.0, 15.0)[0] is AddResult.COALESCED
        assert q.pop_due(24.9) == []
        assert q.pop_due(25.0) == [("a", 0.0)]

    def test_keys_are_independent(self):
        q = DelayQueue()
        q.add("a", 0.0, 15.0)
        q.add("b", 5.0, 15.0)
        assert q.pop_due(15.0) == [("a", 0.0)]
        assert q.pop_due(20.0) == [("b", 5.0)]
        assert q.next_due() is None

    def test_next_due_is_never_later_than_the_real_due_time(self):
        q = DelayQueue()
        q.add("a", 0.0, 15.0)
        q.add("a", 3.0, 15.0)
        assert q.next_due() <= 18.0


class TestMaxWait:
    def test_a_flapping_key_is_due_at_first_seen_plus_max_wait(self):
        q = DelayQueue()
        for t in range(0, 100, 5):
            q.add("a", float(t), 15.0, max_wait=60.0)
            if t < 60:
                assert q.pop_due(float(t)) == []
        # due at 60 at the latest even though adds kept coming
        assert q.processing == 1 or q.pop_due(60.0) == [("a", 0.0)]


class TestCollapseWhileProcessing:
    def test_add_while_processing_is_deferred_then_rearmed_once(self):
        q = DelayQueue()
        q.add("a", 0.0, 15.0)
        assert q.pop_due(15.0) == [("a", 0.0)]
        assert q.add("a", 16.0, 15.0)[0] is AddResult.DEFERRED
        assert q.add("a", 17.0, 15.0)[0] is AddResult.COALESCED
        assert q.pop_due(100.0) == []  # never handed out twice at once
        assert q.done("a", 18.0) is True
        assert q.pop_due(32.9) == []
        assert q.pop_due(33.0) == [("a", 16.0)]
        assert q.done("a", 33.0) is False
        assert len(q) == 0

    def test_retry_keeps_first_seen(self):
        q = DelayQueue()
        q.add("a", 0.0, 15.0)
        q.pop_due(15.0)
        q.retry("a", 15.0, 2.0, 0.0)
        assert q.pop_due(17.0) == [("a", 0.0)]


class TestBound:
    def test_past_max_pending_the_oldest_is_due_at_once(self):
        q = DelayQueue(max_pending=2)
        q.add("a", 0.0, 15.0)
        q.add("b", 1.0, 15.0)
        result, forced = q.add("c", 2.0, 15.0)
        assert result is AddResult.NEW and forced == ["a"]
        assert q.pop_due(2.0) == [("a", 0.0)]
        assert len(q) == 2 and q.forced == 1

    def test_nothing_is_dropped(self):
        q = DelayQueue(max_pending=10)
        for i in range(100):
            q.add(i, float(i) * 0.01, 15.0)
        seen = [k for k, _ in q.pop_due(1000.0)]
        assert sorted(seen) == list(range(100))


class TestCancel:
    def test_cancel_forgets_waiting_and_deferred(self):
        q = DelayQueue()
        q.add("a", 0.0, 15.0)
        assert q.cancel("a") is True
        assert q.pop_due(100.0) == [] and len(q) == 0
        q.add("b", 0.0, 1.0)
        q.pop_due(1.0)
        q.add("b", 2.0, 1.0)
        assert q.cancel("b") is True
        assert q.done("b", 3.0) is False and len(q) == 0

    def test_drain_returns_everything(self):
        q = DelayQueue()
        for k in "abc":
            q.add(k, 0.0, 1.0)
        assert sorted(q.drain()) == ["a", "b", "c"]
        assert len(q) == 0 and q.next_due() is None
