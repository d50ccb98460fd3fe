"""The enrollments' index by the CPF's keyed hash: how a person's enrollments are found.

The API writes the hash (`cpf_hash`) with each new enrollment, under the key's current value;
erasure removes it with the CPF. `enrollment-data` queries the index (`ids_with`) and, after the
first deployment of the index or a rotation of the key, writes the hash again under the current
key on every enrollment that still holds its CPF (`reindex`): the one scan of the table, once per
rotation (docs/adr/0012-a-keyed-index-of-the-cpf.md).
"""

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

from botocore.exceptions import ClientError

from app.adapters.errors import CONDITION_FAILED, error_code, translate_aws_errors
from app.adapters.tables import CPF_HASH_ATTRIBUTE, CPF_HASH_INDEX, ENROLLMENTS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CpfIndex:
    """The CPF index of one enrollments table."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def ids_with(self, cpf_hash: str) -> Iterator[UUID]:
        """The ids of the enrollments whose CPF has this hash: a query of the index."""
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": CPF_HASH_INDEX,
            "KeyConditionExpression": "#hash = :hash",
            "ExpressionAttributeNames": {"#hash": CPF_HASH_ATTRIBUTE},
            "ExpressionAttributeValues": {":hash": {"S": cpf_hash}},
        }
        for page in self._pages("query", request):
            yield from (UUID(item[ENROLLMENTS.key]["S"]) for item in page.get("Items", []))

    def reindex(self, digest: Callable[[str], str]) -> int:
        """Write `digest(cpf)` as the hash of every enrollment that holds a CPF and another hash
        (or none); the number written.

        Each write is conditional on the CPF it was computed from: an enrollment erased meanwhile
        is left without a hash.
        """
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "ProjectionExpression": "#key, cpf, #hash",
            "FilterExpression": "attribute_exists(cpf)",
            "ExpressionAttributeNames": {"#key": ENROLLMENTS.key, "#hash": CPF_HASH_ATTRIBUTE},
        }
        written = 0
        for page in self._pages("scan", request):
            for item in page.get("Items", []):
                cpf, current = item["cpf"]["S"], item.get(CPF_HASH_ATTRIBUTE, {}).get("S")
                if (new := digest(cpf)) != current and self._rehash(item, cpf, new):
                    written += 1
        return written

    def _rehash(self, item: dict[str, Any], cpf: str, cpf_hash: str) -> bool:
        with translate_aws_errors(ENROLLMENTS.dependency):
            try:
                self._client.update_item(
                    TableName=self._table_name,
                    Key={ENROLLMENTS.key: item[ENROLLMENTS.key]},
                    UpdateExpression="SET #hash = :hash",
                    ConditionExpression="cpf = :cpf",
                    ExpressionAttributeNames={"#hash": CPF_HASH_ATTRIBUTE},
                    ExpressionAttributeValues={":hash": {"S": cpf_hash}, ":cpf": {"S": cpf}},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                return False
        return True

    def _pages(self, operation: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Each page of a query or a scan, to the last."""
        while True:
            with translate_aws_errors(ENROLLMENTS.dependency):
                page: dict[str, Any] = getattr(self._client, operation)(**request)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
