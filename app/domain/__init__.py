"""The domain: models, rules, errors and use cases. It speaks neither HTTP nor DynamoDB."""
