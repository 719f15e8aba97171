"""change_advisor: change-request risk scoring and CAB reports."""
