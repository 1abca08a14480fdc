"""The champions' succession tag on plain data: parse, push, pop, cap."""

import json

from shelfcast.registry import history


def test_parse_reads_entries_and_ignores_what_is_not_one():
    tag = json.dumps([{"version": "1", "at": "t", "reason": "r"}, {"at": "no version"}, 3])
    assert history.parse({history.HISTORY_TAG: tag}) == [{"version": "1", "at": "t", "reason": "r"}]
    assert history.parse({}) == []
    assert history.parse({history.HISTORY_TAG: "not json"}) == []
    assert history.parse({history.HISTORY_TAG: '{"version": "1"}'}) == []


def test_push_puts_the_new_champion_on_top_with_its_source_and_a_short_reason():
    first = history.pushed([], "1", "file:///a/model", "gate: no champion yet")
    second = history.pushed(first, 2, None, "x" * 1000)
    assert [e["version"] for e in second] == ["1", "2"]
    assert first[0]["source"] == "file:///a/model" and "source" not in second[1]
    assert len(second[1]["reason"]) == history.MAX_REASON and second[1]["at"].endswith("+00:00")
    assert first == [second[0]]  # the entries given are not changed


def test_pop_takes_the_current_champion_off_the_top_only():
    entries = [{"version": "1"}, {"version": "2"}]
    assert history.popped(entries, "2") == [{"version": "1"}]
    assert history.popped(entries, "1") == entries  # not on top: nothing to pop
    assert history.popped(entries, None) == entries
    assert history.popped([], "2") == []
    assert entries == [{"version": "1"}, {"version": "2"}]


def test_the_tag_keeps_the_newest_entries_compactly():
    entries = [{"version": str(v)} for v in range(history.MAX_HISTORY + 10)]
    tag = history.encode(entries)
    kept = history.parse({history.HISTORY_TAG: tag})
    assert len(kept) == history.MAX_HISTORY and kept[-1] == entries[-1]
    assert kept[0] == {"version": "10"} and " " not in tag
