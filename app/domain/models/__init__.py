"""Request and response models. They speak neither HTTP nor DynamoDB."""
