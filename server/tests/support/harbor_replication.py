"""Drives Berth's replication API with harborapi, the PyPI Harbor v2.0
client, whose pydantic models must accept every answer unchanged. Usage:
    harbor_replication.py <base url> <admin password> <peer registry url>
Prints one JSON object describing what it saw; any exception fails the run.
"""

import asyncio
import json
import sys

from harborapi import HarborAsyncClient
from harborapi.exceptions import PreconditionFailed
from harborapi.models import (
    Registry,
    RegistryCredential,
    RegistryPing,
    RegistryUpdate,
    ReplicationFilter,
    ReplicationPolicy,
    ReplicationTrigger,
)


async def main(base: str, admin_password: str, peer: str) -> None:
    admin = HarborAsyncClient(url=f"{base}/api/v2.0", username="admin", secret=admin_password)
    seen: dict = {}

    seen["adapters"] = await admin.get_registry_adapters()
    location = await admin.create_registry(
        Registry(name="peer", type="docker-registry", url=peer, insecure=False, description="loopback peer")
    )
    registry_id = int(location.rsplit("/", 1)[1])
    await admin.check_registry_status(RegistryPing(id=registry_id))
    await admin.update_registry(registry_id, RegistryUpdate(description="the peer"))
    registry = await admin.get_registry(registry_id)
    seen["registry"] = {"name": registry.name, "type": registry.type, "status": registry.status, "description": registry.description}
    seen["registries"] = [r.name for r in await admin.get_registries()]
    info = await admin.get_registry_info(registry_id)
    seen["info_triggers"] = info.supported_triggers

    policy = ReplicationPolicy(
        name="to-peer",
        dest_registry=Registry(id=registry_id),
        dest_namespace="mirror",
        filters=[ReplicationFilter(type="name", value="busy/**")],
        trigger=ReplicationTrigger(type="manual"),
        enabled=True,
        override=True,
    )
    policy_location = await admin.create_replication_policy(policy)
    policy_id = int(policy_location.rsplit("/", 1)[1])
    read = await admin.get_replication_policy(policy_id)
    seen["policy"] = {"name": read.name, "dest": read.dest_registry.name, "src": read.src_registry.name}
    seen["policies"] = [p.name for p in await admin.get_replication_policies()]

    execution_location = await admin.start_replication(policy_id)
    execution_id = int(execution_location.rsplit("/", 1)[1])
    for _ in range(300):
        execution = await admin.get_replication(execution_id)
        if execution.status != "InProgress":
            break
        await asyncio.sleep(0.1)
    seen["execution"] = {"status": execution.status, "total": execution.total, "succeed": execution.succeed}
    seen["executions"] = [e.id == execution_id for e in await admin.get_replications(policy_id=policy_id)]
    tasks = await admin.get_replication_tasks(execution_id)
    seen["tasks"] = [(t.status, t.operation, t.src_resource, t.dst_resource) for t in tasks]
    log = await admin.get_replication_task_log(execution_id, tasks[0].id)
    seen["task_log_done"] = "done:" in log

    try:
        await admin.delete_registry(registry_id)
        seen["registry_in_use"] = "deleted"
    except PreconditionFailed:
        seen["registry_in_use"] = "precondition failed"
    await admin.delete_replication_policy(policy_id)
    await admin.delete_registry(registry_id)
    seen["registries_after"] = [r.name for r in await admin.get_registries()]
    print(json.dumps(seen))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
