"""What ``trainbridge init`` writes: a commented plugins.toml and small sample data that passes
``trainbridge check`` and ``trainbridge sync`` (the formats are in docs/files.md)."""

INIT_TOML = '''\
# trainbridge configuration: one file per company (tenant).
# Every ${VAR} is read from the environment; secrets never appear in logs or reports.
# Docs: docs/plugins.md (connectors and hooks), docs/files.md (the file formats), README.md.
# The data/ files are a small sample: replace them with your exports (same columns).

[tenant]
id = "default"                      # every ledger row belongs to this tenant
timezone = "Asia/Shanghai"          # "today", periods and the console's times are in this zone

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
results = "out/training_results.jsonl"   # training results written back to the performance system

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
# auto = ["review_points"]

# A failed or partial sync's summary, sent once per run through a notifier instance.
# [alerts]
# notifier = "notices"
# on = ["failed", "partial"]
# to = ["it-oncall@example.com"]

# When each job runs (cron syntax), for `trainbridge schedule` and the Celery beat.
# [schedule]
# costs = "0 2 * * *"
'''

#: Sample data (relative path -> content) matching the connectors above; the formats are in
#: docs/files.md. Written only where no file exists yet.
SAMPLE_FILES = {
    "data/employees.csv": (
        "employee_id,name,email,department,job_title,legal_entity,hire_date,probation_end,is_manager\n"
        "E001,张伟,zhang.wei@example.com,Operations,Shift manager,ACME-SH,2019-07-01,2019-10-01,true\n"
        "E003,李娜,li.na@example.com,Operations,Fire safety officer,ACME-SH,2023-03-01,2023-06-01,false\n"
    ),
    "data/separations.csv": (
        "separation_id,employee_id,last_day,reason,waived\n"
    ),
    "data/catalog.jsonl": (
        '{"record": "program", "program_id": "FIRE-CTRL", "title": "消防设施操作员"}\n'
        '{"record": "session", "session_id": "FIRE-CTRL-1", "program_id": "FIRE-CTRL", '
        '"starts_at": "2025-05-10T09:00:00+08:00"}\n'
        '{"record": "enrollment", "enrollment_id": "FIRE-CTRL-1-E003", "employee_id": "E003", '
        '"program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1", "enrolled_on": "2025-04-26"}\n'
    ),
    "data/learning_events.jsonl": (
        '{"event_id": "att-E003", "employee_id": "E003", "event": "attended", '
        '"occurred_at": "2025-05-10T09:00:00+08:00", "session_id": "FIRE-CTRL-1", '
        '"program_id": "FIRE-CTRL"}\n'
    ),
    "data/cost_items.csv": (
        "item_id,category,amount,currency,allocation,employee_id,program_id,session_id,incurred_on,"
        "voucher_ref,description\n"
        "FEE-E003,course_fee,1000.00,CNY,employee,E003,FIRE-CTRL,FIRE-CTRL-1,2025-05-10,INV-E003,课程费\n"
    ),
    "data/metrics.csv": (
        "metric_id,employee_id,metric,value,as_of,unit,direction\n"
        "err-before-E003,E003,error_rate,0.05,2025-04-10,ratio,lower_is_better\n"
    ),
}
