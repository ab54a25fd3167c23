"""Drives Berth's tag immutability rules with harborapi, the PyPI Harbor
v2.0 client, whose pydantic models must accept every answer unchanged.
Usage:
    harbor_immutability.py <base url> <admin password>
The project `team` exists with team/app:v1 pushed. Prints one JSON object
describing what it saw; any unexpected exception fails the run.
"""

import asyncio
import json
import sys

from harborapi import HarborAsyncClient
from harborapi.exceptions import PreconditionFailed
from harborapi.models import ImmutableRule, ImmutableSelector


def rule(tags: str) -> ImmutableRule:
    return ImmutableRule(
        disabled=False,
        action="immutable",
        template="immutable_template",
        tag_selectors=[ImmutableSelector(kind="doublestar", decoration="matches", pattern=tags)],
        scope_selectors={
            "repository": [ImmutableSelector(kind="doublestar", decoration="repoMatches", pattern="**")]
        },
    )


async def main(base: str, admin_password: str) -> None:
    admin = HarborAsyncClient(url=f"{base}/api/v2.0", username="admin", secret=admin_password)
    seen: dict = {}

    location = await admin.create_project_immutable_tag_rule("team", rule("v*"))
    rule_id = int(location.rsplit("/", 1)[1])
    seen["location"] = location.rsplit("/", 1)[0]
    rules = await admin.get_project_immutable_tag_rules("team")
    seen["rules"] = [
        [r.tag_selectors[0].pattern, r.scope_selectors["repository"][0].decoration, r.disabled] for r in rules
    ]

    try:
        await admin.delete_artifact("team", "app", "v1")
        seen["delete"] = "deleted"
    except PreconditionFailed as refused:
        seen["delete"] = "precondition failed"
        seen["delete_message"] = str(refused)

    artifacts = await admin.get_artifacts("team", "app", with_immutable_status=True)
    seen["immutable"] = sorted([t.name, t.immutable] for a in artifacts for t in (a.tags or []))

    await admin.enable_project_immutable_tagrule("team", rule_id, enabled=False)
    seen["disabled"] = [r.disabled for r in await admin.get_project_immutable_tag_rules("team")]
    await admin.enable_project_immutable_tagrule("team", rule_id, enabled=True)
    await admin.update_project_immutable_tag_rule("team", rule_id, rule("release-*"))
    seen["updated"] = [
        [r.tag_selectors[0].pattern, r.disabled] for r in await admin.get_project_immutable_tag_rules("team")
    ]
    await admin.delete_project_immutable_tag_rule("team", rule_id)
    seen["after_delete"] = len(await admin.get_project_immutable_tag_rules("team"))
    await admin.delete_artifact("team", "app", "v1")
    seen["deleted_after"] = True
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
