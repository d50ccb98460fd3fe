"""The webhook notifier: a Lambda function fed by the enrollments table's stream and by the
webhook delivery queue."""
