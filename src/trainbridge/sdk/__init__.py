"""What a connector author builds on: REST streams, token auth, webhook replay checks, a fake vendor.

A vendor package writes configuration and mapping; paging, incremental cursors, rate limits,
token refresh and the replay window come from here (see ``docs/plugins.md``).
"""
