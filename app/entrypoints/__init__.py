"""The Lambda runtime around the API: the handler and its SnapStart hooks."""
