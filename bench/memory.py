"""Peak memory of each handler, in a fresh process, against the memory the template gives it."""

import json

from bench.common import AwsStack, Figure, run_child
from bench.progress import step
from local.aws_shapes import sqs_event
from local.poller import sqs_function_config

# This process's own high-water mark (getrusage's ru_maxrss would include the parent's size at
# fork time, before exec).
PEAK = """
def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
"""

API_PROCESS = (
    PEAK
    + """
import json, sys
from app.main import handler
from app.entrypoints.events import rest_event
from local.aws_shapes import LambdaContext
for method, path, body in json.loads(sys.argv[1]):
    response = handler(rest_event(method, path, body), LambdaContext())
    assert response["statusCode"] < 300, response
print(peak_mb())
"""
)

PROCESSOR_PROCESS = (
    PEAK
    + """
import json, sys
from processor.handler import handler
from local.aws_shapes import LambdaContext
assert handler(json.loads(sys.argv[1]), LambdaContext()) == {"batchItemFailures": []}
print(peak_mb())
"""
)


def _peak_mb(code: str, argument: str, env: dict[str, str]) -> float:
    return float(run_child(code, argument, env))


def measure(aws: AwsStack) -> tuple[list[Figure], list[str]]:
    env = aws.function_env("ApiFunction") | aws.function_env("ProcessorFunction")
    env["PROCESSING_DELAY_SECONDS"] = "0"
    enrollment = {"name": "Maria da Silva", "age": 22, "cpf": "52998224725"}
    calls: list[tuple[str, str, object]] = [
        ("POST", "/age-groups", {"min_age": 0, "max_age": 150}),
        ("GET", "/age-groups", None),
    ]
    calls += [("POST", "/enrollments", enrollment)] * 10
    with step("Peak memory: API, processor", 2) as advance:
        api_mb = _peak_mb(API_PROCESS, json.dumps(calls), env)
        advance(1)
        sqs = aws.client("sqs")
        queue_url = aws.stack.refs["EnrollmentQueue"]
        bodies: list[str] = []
        while len(bodies) < 10:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            bodies += [m["Body"] for m in messages.get("Messages", [])]
        arn = aws.stack.attributes[("EnrollmentQueue", "Arn")]
        event = sqs_event(*bodies[:10], queue_arn=arn)
        processor_mb = _peak_mb(PROCESSOR_PROCESS, json.dumps(event), env)
        advance(1)

    api_memory = aws.template["Resources"]["ApiFunction"]["Properties"]["MemorySize"]
    processor_memory = sqs_function_config(aws.template, "ProcessorFunction").memory_mb
    return [], [
        f"peak memory: API {api_mb:.0f} MB of its {api_memory} MB after 12 requests; "
        f"processor {processor_mb:.0f} MB of its {processor_memory} MB after a batch of 10"
    ]
