"""HR approves where HR already works: proposals as Feishu / DingTalk approval instances.

``routing`` reads ``[approvals]``; ``form`` writes the Chinese form; ``channel`` sends each
pending proposal of a routed kind once, withdraws the instances of proposals decided
elsewhere, and applies the vendors' verdicts exactly once (see docs/approvals.md).
"""
