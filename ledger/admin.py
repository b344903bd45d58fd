"""The log is deliberately not in the Django admin.

The admin belongs to the system administrator; audit events and the log are for the
audit administrator and inspectors (三权分立), who use the inspector page /ledger/.
Nothing here may offer a way to change a row.
"""
