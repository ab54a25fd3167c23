"""Drives Berth's tag retention with harborapi, the PyPI Harbor v2.0
client, whose pydantic models must accept every answer unchanged. Usage:
    harbor_retention.py <base url> <admin password>
The project `team` exists with team/app:v1, v2 and v3 pushed (v3 newest).
Prints one JSON object describing what it saw; any exception fails the run.
"""

import asyncio
import json
import sys

from harborapi import HarborAsyncClient
from harborapi.models import (
    RetentionPolicy,
    RetentionPolicyScope,
    RetentionRule,
    RetentionRuleTrigger,
    RetentionSelector,
)


def rule(template: str, n=None) -> RetentionRule:
    return RetentionRule(
        disabled=False,
        action="retain",
        template=template,
        params={template: n} if n is not None else {},
        tag_selectors=[RetentionSelector(kind="doublestar", decoration="matches", pattern="**", extras='{"untagged":true}')],
        scope_selectors={"repository": [RetentionSelector(kind="doublestar", decoration="repoMatches", pattern="**")]},
    )


async def main(base: str, admin_password: str) -> None:
    admin = HarborAsyncClient(url=f"{base}/api/v2.0", username="admin", secret=admin_password)
    seen: dict = {}
    project = await admin.get_project("team")
    policy = RetentionPolicy(
        algorithm="or",
        rules=[rule("latestPushedK", 5)],
        trigger=RetentionRuleTrigger(kind="Schedule", settings={"cron": ""}, references={}),
        scope=RetentionPolicyScope(level="project", ref=project.project_id),
    )
    location = await admin.create_retention_policy(policy)
    seen["location"] = location.rsplit("/", 1)[0]
    retention_id = await admin.get_project_retention_id("team")
    seen["retention_id_matches"] = location.endswith(f"/{retention_id}")
    metadata = await admin.get_retention_metadata()
    seen["templates"] = [t.rule_template for t in metadata.templates]

    policy.rules = [rule("latestPushedK", 1)]
    await admin.update_retention_policy(retention_id, policy)
    read = await admin.get_retention_policy(retention_id)
    seen["rules"] = [[r.template, r.params] for r in read.rules]

    await admin.start_retention_execution(retention_id, dry_run=True)
    for _ in range(600):
        executions = await admin.get_retention_executions(retention_id)
        if executions and executions[0].status not in ("Pending", "Running"):
            break
        await asyncio.sleep(0.1)
    execution = executions[0]
    seen["execution"] = {"status": execution.status, "dry_run": execution.dry_run, "trigger": execution.trigger}
    tasks = await admin.get_retention_tasks(retention_id, execution.id)
    seen["tasks"] = [[t.repository, t.status, t.total, t.retained] for t in tasks]
    log = await admin.get_retention_execution_task_log(retention_id, execution.id, tasks[0].id)
    seen["would_delete"] = sum(1 for line in log.splitlines() if line.startswith("would delete "))

    await admin.delete_retention_policy(retention_id)
    seen["after_delete"] = (await admin.get_project("team")).metadata.retention_id
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
