"""What the three robots share: cutting long notices, and the client-side send window."""

from __future__ import annotations

import pytest

from trainbridge.connectors.chatbots import SendWindow, part_label, split_lines
from trainbridge.core.errors import RateLimited


def utf8_within(limit: int):
    return lambda text: len(text.encode()) <= limit


def test_a_long_list_is_cut_at_line_ends_and_keeps_every_line_in_order() -> None:
    lines = [f"{n:03d}. 张伟 — 服务期至 2025-06-30" for n in range(1, 201)]
    pieces = split_lines("\n".join(lines), utf8_within(1000))

    assert len(pieces) > 1
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert [line for p in pieces for line in p.split("\n")] == lines


def test_a_line_longer_than_a_message_is_cut_between_characters_never_inside_one() -> None:
    line = "培训协议" * 500  # 6000 bytes of three-byte characters
    pieces = split_lines(line, utf8_within(1000))

    assert "".join(pieces) == line
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert all(len(p.encode()) > 990 for p in pieces[:-1])  # pieces are filled, not halved


def test_a_short_text_stays_whole_and_blank_lines_at_cuts_are_dropped() -> None:
    assert split_lines("一行\n\n两行", utf8_within(100)) == ["一行\n\n两行"]
    assert split_lines("", utf8_within(10)) == [""]
    assert split_lines("aaaa\n\nbbbb", utf8_within(5)) == ["aaaa", "bbbb"]


def test_the_part_label_is_written_in_the_notice_language() -> None:
    assert part_label("zh", 2, 3) == "（2/3）"
    assert part_label("zh-CN", 1, 2) == "（1/2）"
    assert part_label("en", 2, 3) == " (2/3)"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_twenty_sends_a_minute_then_the_window_waits_for_the_oldest_to_leave() -> None:
    clock = Clock()
    window = SendWindow([(20, 60.0)], clock=clock.time, sleep=clock.sleep)
    sent_at = []
    for _ in range(20):
        window.acquire(max_wait=120, instance="hr_group")
        sent_at.append(clock.now)
        clock.now += 1.0
    assert clock.sleeps == []

    window.acquire(max_wait=120, instance="hr_group")

    assert clock.sleeps == [pytest.approx(40.0)]  # the first send, at 1000, leaves at 1060
    assert clock.now == pytest.approx(sent_at[0] + 60.0)


def test_several_rules_hold_together() -> None:
    clock = Clock()
    window = SendWindow([(100, 60.0), (5, 1.0)], clock=clock.time, sleep=clock.sleep)
    for _ in range(6):
        window.acquire(max_wait=120, instance="hr_group")

    assert clock.sleeps == [pytest.approx(1.0)]


def test_a_wait_longer_than_max_wait_raises_instead_of_sleeping() -> None:
    clock = Clock()
    window = SendWindow([(1, 600.0)], clock=clock.time, sleep=clock.sleep)
    window.acquire(max_wait=120, instance="hr_group")

    with pytest.raises(RateLimited, match="600 s pause") as caught:
        window.acquire(max_wait=120, instance="hr_group")

    assert "next run" in caught.value.hint
    assert clock.sleeps == []
