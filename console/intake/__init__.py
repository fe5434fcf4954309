"""Intake: change events from deploy tools (changes_import) and the alert that opened an
incident (alerts, alert_intake), read from the JSON those tools emit. docs/intake.md."""
