"""Build tools: the Lambda artifacts (build-lambda.sh) and what goes in them."""
