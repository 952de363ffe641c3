"""The one replay window: an event stamped too long ago, or ahead, is rejected; 0 turns it off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ConfigDict

from trainbridge.core.errors import WebhookRejected
from trainbridge.sdk.webhooks import MAX_AGE_KEY, check_replay, max_age_field

NOW = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def test_an_event_inside_the_window_passes():
    check_replay(NOW - timedelta(seconds=299), NOW, 300)
    check_replay(NOW.timestamp() + 10, NOW.timestamp(), 300)


def test_an_old_event_is_a_replay_and_the_hint_names_the_one_config_key():
    with pytest.raises(WebhookRejected, match="301 s before now") as rejected:
        check_replay(NOW - timedelta(seconds=301), NOW, 300, instance="acme_esign")
    assert "webhook_max_age_seconds of [connectors.acme_esign] is 300" in rejected.value.hint


def test_an_event_from_the_future_is_rejected_too():
    with pytest.raises(WebhookRejected, match="ahead of now"):
        check_replay(NOW.timestamp() + 3600, NOW, 300)


def test_an_event_without_a_timestamp_fails_only_while_the_check_is_on():
    with pytest.raises(WebhookRejected, match="no timestamp"):
        check_replay(None, NOW, 300)
    check_replay(None, NOW, 0)
    check_replay(NOW - timedelta(days=30), NOW, 0)


def test_a_timestamp_without_an_offset_is_refused_rather_than_guessed():
    with pytest.raises(WebhookRejected, match="without an offset"):
        check_replay(datetime(2026, 3, 5, 9, 0), NOW, 300)


def test_a_config_declares_the_window_under_the_one_key():
    class EsignConfig(BaseModel):
        webhook_max_age_seconds: int = max_age_field(600)

    assert MAX_AGE_KEY in EsignConfig.model_fields
    assert EsignConfig().webhook_max_age_seconds == 600
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        EsignConfig(webhook_max_age_seconds=-1)


def test_replay_window_seconds_is_read_as_the_deprecated_name_of_the_key():
    class FeishuConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        webhook_max_age_seconds: int = max_age_field(300)

    assert FeishuConfig.model_validate({"replay_window_seconds": 60}).webhook_max_age_seconds == 60
    assert FeishuConfig.model_validate({"webhook_max_age_seconds": 90}).webhook_max_age_seconds == 90
    assert FeishuConfig().model_dump() == {"webhook_max_age_seconds": 300}


def test_a_vendors_clock_skew_can_bound_events_ahead_more_tightly_than_old_ones():
    four_days = 4 * 24 * 3600
    check_replay(NOW - timedelta(days=3), NOW, four_days, max_ahead_seconds=300)
    check_replay(NOW + timedelta(seconds=299), NOW, four_days, max_ahead_seconds=300)
    with pytest.raises(WebhookRejected, match="ahead of now"):
        check_replay(NOW + timedelta(seconds=301), NOW, four_days, max_ahead_seconds=300)
