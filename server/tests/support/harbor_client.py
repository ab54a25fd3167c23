"""Drives Berth with harborapi, the PyPI Harbor v2.0 client, whose pydantic
models must accept every answer unchanged. Usage:
    harbor_client.py <base url> <admin password>
Prints one JSON object describing what it saw; any exception fails the run.
"""

import asyncio
import json
import sys

from harborapi import HarborAsyncClient
from harborapi.exceptions import Forbidden, NotFound, PreconditionFailed
from harborapi.models import (
    Access,
    Tag,
    ProjectMetadata,
    ProjectReq,
    RobotCreate,
    RobotPermission,
    RoleRequest,
    Schedule,
    ScheduleObj,
    UserCreationReq,
    UserProfile,
)


async def main(base: str, admin_password: str) -> None:
    admin = HarborAsyncClient(url=f"{base}/api/v2.0", username="admin", secret=admin_password)
    seen: dict = {}

    me = await admin.get_current_user()
    seen["current_user"] = {"username": me.username, "admin": me.sysadmin_flag}
    user_location = await admin.create_user(
        UserCreationReq(username="dana", password="Dana-password-1", email="dana@example.com", realname="Dana")
    )
    dana_id = int(user_location.rsplit("/", 1)[1])
    await admin.update_user(dana_id, UserProfile(realname="Dana D."))
    await admin.set_user_admin(dana_id, True)
    dana = await admin.get_user(dana_id)
    seen["dana"] = {"realname": dana.realname, "admin": dana.sysadmin_flag, "email": dana.email}
    await admin.set_user_password(dana_id, new_password="Dana-password-2")
    dana_client = HarborAsyncClient(url=f"{base}/api/v2.0", username="dana", secret="Dana-password-2")
    seen["dana_sees_users"] = sorted(u.username for u in await dana_client.get_users(query="username=~a"))
    await admin.delete_user(dana_id)

    assert not await admin.project_exists("harborapi-team")
    location = await admin.create_project(
        ProjectReq(project_name="harborapi-team", metadata=ProjectMetadata(public="false"))
    )
    seen["location"] = location
    assert await admin.project_exists("harborapi-team")

    project = await admin.get_project("harborapi-team")
    seen["project"] = {"name": project.name, "public": project.metadata.public, "owner": project.owner_name}
    same = await admin.get_project(project.project_id)
    assert same.name == "harborapi-team"

    projects = await admin.get_projects(query="name=~harborapi", page_size=5)
    seen["projects"] = [p.name for p in projects]
    everything = await admin.get_projects(page_size=1)  # follows the Link header
    seen["all_projects"] = sorted(p.name for p in everything)

    await admin.update_project("harborapi-team", ProjectReq(metadata=ProjectMetadata(public="true")))
    assert (await admin.get_project("harborapi-team")).metadata.public == "true"

    member_location = await admin.add_project_member_user("harborapi-team", "casey", 2)
    member_id = int(member_location.rsplit("/", 1)[1])
    members = await admin.get_project_members("harborapi-team")
    seen["members"] = sorted((m.entity_name, m.role_name, m.role_id) for m in members)
    await admin.update_project_member_role("harborapi-team", member_id, RoleRequest(role_id=4))
    member = await admin.get_project_member("harborapi-team", member_id)
    seen["changed_role"] = member.role_name

    summary = await admin.get_project_summary("harborapi-team")
    seen["summary"] = {"repos": summary.repo_count, "admins": summary.project_admin_count,
                       "maintainers": summary.maintainer_count}

    casey = HarborAsyncClient(url=f"{base}/api/v2.0", username="casey", secret="casey-password-1")
    try:
        await casey.delete_project("harborapi-team")
        seen["casey_delete"] = "allowed"
    except Forbidden:
        seen["casey_delete"] = "forbidden"

    robot = await admin.create_robot(
        RobotCreate(
            name="ci",
            description="CI pushes",
            level="project",
            duration=-1,
            disable=False,
            permissions=[
                RobotPermission(
                    kind="project",
                    namespace="harborapi-team",
                    access=[Access(resource="repository", action="pull"), Access(resource="repository", action="push")],
                )
            ],
        )
    )
    seen["robot_name"] = robot.name
    project_id = (await admin.get_project("harborapi-team")).project_id
    robots = await admin.get_robots(query=f"Level=project,ProjectID={project_id}")
    seen["robots"] = [(r.name, r.level, [a.action for p in r.permissions for a in p.access]) for r in robots]
    refreshed = await admin.refresh_robot_secret(robot.id, "Robot-Secret-99")
    seen["robot_secret"] = refreshed.secret
    await admin.delete_robot(robot.id)

    await admin.remove_project_member("harborapi-team", member_id)
    seen["members_after"] = [m.entity_name for m in await admin.get_project_members("harborapi-team")]

    try:
        await admin.delete_project("library-with-repos")
    except NotFound:
        seen["missing_delete"] = "not found"
    try:
        await admin.delete_project("busy")
        seen["busy_delete"] = "deleted"
    except PreconditionFailed:
        seen["busy_delete"] = "precondition failed"
    project_logs = await admin.get_project_logs("harborapi-team", page_size=100)
    seen["project_log_operations"] = sorted({entry.operation for entry in project_logs})
    logs = await admin.get_audit_logs(query="operation=create,resource_type=user,resource=~dana", page_size=5)
    seen["dana_created"] = [(entry.username, entry.resource) for entry in logs]
    repositories = await admin.get_repositories("busy")
    seen["repositories"] = [(r.name, r.artifact_count) for r in repositories]
    artifacts = await admin.get_artifacts("busy", "app")
    seen["artifact_tags"] = [[t.name for t in a.tags] for a in artifacts]
    await admin.create_artifact_tag("busy", "app", "v1", Tag(name="stable"))
    tags = await admin.get_artifact_tags("busy", "app", "stable")
    seen["tags_after_adding"] = sorted(t.name for t in tags)
    artifact = await admin.get_artifact("busy", "app", "stable")
    seen["artifact_type"] = artifact.type
    await admin.delete_artifact_tag("busy", "app", "v1", "stable")

    await admin.delete_project("harborapi-team")
    seen["exists_after_delete"] = await admin.project_exists("harborapi-team")

    # Garbage collection: a schedule, a dry run followed to its end, the
    # history and the run's log.
    value = lambda field: getattr(field, "value", field)
    await admin.update_gc_schedule(
        Schedule(schedule=ScheduleObj(type="Weekly"), parameters={"workers": 2, "delete_untagged": True})
    )
    gc_schedule = await admin.get_gc_schedule()
    seen["gc_schedule"] = {"type": value(gc_schedule.schedule.type), "cron": gc_schedule.schedule.cron}
    location = await admin.create_gc_schedule(
        Schedule(schedule=ScheduleObj(type="Manual"), parameters={"dry_run": True})
    )
    gc_id = int(location.rsplit("/", 1)[1])
    for _ in range(150):
        run = await admin.get_gc_job(gc_id)
        if run.job_status not in ("Pending", "Running"):
            break
        await asyncio.sleep(0.2)
    seen["gc_run"] = {"status": run.job_status, "kind": run.job_kind, "name": run.job_name}
    seen["gc_history"] = [job.id == gc_id for job in await admin.get_gc_jobs(page_size=5)]
    seen["gc_log_dry"] = any("dry run" in line for line in await admin.get_gc_log(gc_id))
    await admin.update_gc_schedule(Schedule(schedule=ScheduleObj(type="None")))
    seen["gc_schedule_after"] = value((await admin.get_gc_schedule()).schedule.type)
    print(json.dumps(seen))


asyncio.run(main(sys.argv[1], sys.argv[2]))
