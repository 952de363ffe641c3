"""The commented plugins.toml that ``trainbridge init`` writes."""

INIT_TOML = '''\
# trainbridge configuration: one file per company (tenant).
# Every ${VAR} is read from the environment; secrets never appear in logs or reports.
# Docs: docs/plugins.md (connectors and hooks), README.md (this file's reference).

[tenant]
id = "default"                      # every ledger row belongs to this tenant

[ledger]
url = "sqlite:///trainbridge.db"    # relative to this file; or postgresql+psycopg://user@host/db
# lock_timeout_seconds = 900        # a run silent this long is presumed dead and its lock taken over

# [plugins]
# disable = ["some_plugin"]         # block plugins by name (see `trainbridge plugins`)

# Connector instances: [connectors.NAME] with the connector type and its settings.
# Two instances of one type are normal (two payroll systems, two legal entities).

[connectors.hr]
type = "csv_people"
employees = "data/employees.csv"
separations = "data/separations.csv"

[connectors.lms]
type = "file_learning"
events = "data/learning_events.jsonl"
catalog = "data/catalog.jsonl"

[connectors.finance]
type = "csv_costs"
path = "data/cost_items.csv"

[connectors.kpi]
type = "csv_metrics"
path = "data/metrics.csv"

[connectors.payroll]
type = "jsonl_payroll"
path = "out/payroll.jsonl"
# legal_entities = ["ACME-SH"]      # route this entity's adjustments here

[connectors.notices]
type = "file_notifier"
path = "out/notices.jsonl"          # or "-" for stdout

# [connectors.payroll_cn]
# type = "acme_payroll"
# token = "${ACME_TOKEN}"

# Job settings: [jobs.NAME]; see each job's docs.
# [jobs.separations]
# proration = "month"

# Kinds of proposal that need no approval (default: every proposal waits for HR).
# [approvals]
# auto = ["notice"]

# When each job runs (cron syntax), for `trainbridge schedule` and the Celery beat.
# [schedule]
# costs = "0 2 * * *"
'''
