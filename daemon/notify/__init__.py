"""Proactive communication: problem opened / mitigating / resolved to Slack-compatible webhooks and e-mail."""
