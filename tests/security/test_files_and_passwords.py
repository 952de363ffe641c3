"""Files and passwords: what a demo or a new ledger leaves readable or guessable."""


def test_each_demo_gets_its_own_webhook_secret(tmp_path):
    """A published demo secret would let anyone sign callbacks to a demo left running."""
    from datetime import date

    from trainbridge.core.config import load_settings
    from trainbridge.core.demo import prepare_workspace

    secrets = {load_settings(prepare_workspace(tmp_path / name, date(2026, 12, 5))).connectors["esign"]
               ["webhook_secret"] for name in ("one", "two")}
    assert len(secrets) == 2 and all(len(s) >= 32 for s in secrets)
