"""Authentication, authorization, tool policies, rate limits, the audit trail and security events."""
