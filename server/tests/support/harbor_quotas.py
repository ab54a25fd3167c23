"""Drives Berth's project quotas with harborapi, the PyPI Harbor v2.0
client, whose pydantic models must accept every answer unchanged.
Usage:
    harbor_quotas.py <base url> <admin password>
The projects `alpha` (with team/app:v1 pushed) and `beta` exist. Prints
one JSON object describing what it saw; any unexpected exception fails the run.
"""

import asyncio
import json
import sys

from harborapi import HarborAsyncClient
from harborapi.exceptions import BadRequest, NotFound
from harborapi.models import QuotaUpdateReq, ResourceList


async def main(base: str, admin_password: str) -> None:
    admin = HarborAsyncClient(url=f"{base}/api/v2.0", username="admin", secret=admin_password)
    seen: dict = {}

    quotas = await admin.get_quotas()
    seen["listed"] = sorted(
        [q.ref.root["name"], q.hard.root["storage"], q.used.root["storage"] > 0] for q in quotas
    )
    alpha = next(q for q in quotas if q.ref.root["name"] == "alpha")
    only = await admin.get_quotas(reference="project", reference_id=str(alpha.id))
    seen["filtered"] = [q.ref.root["name"] for q in only]

    await admin.update_quota(alpha.id, QuotaUpdateReq(hard=ResourceList({"storage": 1073741824})))
    seen["updated"] = (await admin.get_quota(alpha.id)).hard.root["storage"]
    try:
        await admin.update_quota(alpha.id, QuotaUpdateReq(hard=ResourceList({"storage": 0})))
        seen["zero"] = "accepted"
    except BadRequest:
        seen["zero"] = "bad request"
    try:
        await admin.get_quota(999999)
        seen["missing"] = "found"
    except NotFound:
        seen["missing"] = "not found"
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
