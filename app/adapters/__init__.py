"""Adapters to AWS: the clients, one repository per table, the queue, and AWS error translation.

The only code that speaks DynamoDB or SQS.
"""
