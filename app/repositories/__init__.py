"""Data access: the only code that speaks DynamoDB."""
